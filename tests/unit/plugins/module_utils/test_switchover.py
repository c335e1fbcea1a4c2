# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

import pytest
from ansible_collections.opsforge.webstack.plugins.module_utils import switchover as sw


def test_signal_application_name_fits_postgres():
    assert sw.signal_application_name("app1") == "webstack-switchover-paused:app1"
    assert len(sw.signal_application_name("x" * sw.MAX_SIGNAL_NAME)) == 63


@pytest.mark.parametrize("name", ["", "app 1", "app'1", "a;b", "x" * (sw.MAX_SIGNAL_NAME + 1)])
def test_signal_name_error_rejects(name):
    assert sw.signal_name_error(name)


@pytest.mark.parametrize("name", ["app1", "molecule-pg-app", "web_1.example"])
def test_signal_name_error_accepts(name):
    assert sw.signal_name_error(name) is None


def test_signals_query_args_escape_like_wildcards():
    args = sw.signals_query_args()
    assert args["pattern"] == "webstack-switchover-paused:%"
    assert args["offset"] == len("webstack-switchover-paused:") + 1


def test_max_pause_age_keeps_the_margin():
    assert sw.max_pause_age(15, 3, 3) == 15 - 3 - 3 - sw.SAFETY_MARGIN


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ((0, 3), "pause_timeout must be positive"),
        ((15, -1), "pause_wait must be positive"),
        ((15, 3, 0), "promote_wait must be positive"),
        ((15, 3, 3, 0), "signal_timeout must be positive"),
        ((3, 3), "must be shorter than pause_timeout"),
        ((8, 3, 3), "leaves no time to promote"),
    ],
)
def test_bounds_error(args, fragment):
    assert fragment in sw.bounds_error(*args)


def test_bounds_accepted():
    assert sw.bounds_error(15, 3, 3, 10) is None
    assert sw.bounds_error(15, 3) is None


def test_signal_decision_waits_for_missing_bouncers():
    assert sw.signal_decision(["a", "b"], {"a": 0.1}, 5) == ("wait", ["b"])
    assert sw.signal_decision(["a"], {}, 5) == ("wait", ["a"])


def test_signal_decision_goes_when_all_paused_and_young():
    assert sw.signal_decision(["a", "b"], {"a": 0.1, "b": 4.9, "stranger": 99}, 5) == ("go", None)


def test_signal_decision_refuses_when_the_oldest_pause_is_too_old():
    assert sw.signal_decision(["a", "b"], {"a": 0.1, "b": 5.5}, 5) == ("late", 5.5)


def test_caught_up():
    assert sw.caught_up(100, 100) and sw.caught_up(100, 101)
    assert not sw.caught_up(100, 99)
    assert not sw.caught_up(None, 100) and not sw.caught_up(100, None)


def test_ready_application_name_fits_postgres_and_names_the_same_host():
    longest = "x" * sw.MAX_SIGNAL_NAME
    assert len(sw.ready_application_name(longest)) <= 63
    assert sw.ready_application_name("app1").split(":", 1)[1] == sw.signal_application_name("app1").split(":", 1)[1]


def test_peers_query_args_match_both_stages():
    assert sw.peers_query_args() == {"ready": "webstack-switchover-ready:%", "paused": "webstack-switchover-paused:%"}


def test_barrier_missing_lists_absent_peers_and_ignores_strangers():
    assert sw.barrier_missing(["app1", "app2", "worker1"], {"worker1", "app1"}) == ["app2"]
    assert sw.barrier_missing(["app1", "app2"], {"app2", "app1", "other"}) == []
    assert sw.barrier_missing([], set()) == []


def test_restore_command_placeholders_are_filled_as_postgresql_fills_them():
    command = 'pgbackrest --stanza=main archive-get %f "%p" # keep %r, 100%% sure%x'
    assert sw.expand_restore_command(command, "00000003.history", "/tmp/x/00000003.history") == (
        'pgbackrest --stanza=main archive-get 00000003.history "/tmp/x/00000003.history" '
        "# keep 000000010000000000000001, 100% sure"
    )


def test_history_file_names_are_eight_hex_digits():
    assert sw.history_file_name(3) == "00000003.history"
    assert sw.history_file_name(26) == "0000001A.history"
