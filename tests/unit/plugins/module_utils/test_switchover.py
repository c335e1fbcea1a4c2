# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

import subprocess
import time

import pytest
from ansible_collections.opsforge.webstack.plugins.module_utils import switchover as sw
from ansible_collections.opsforge.webstack.plugins.module_utils.postgres import connection_kwargs


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


def test_the_hold_of_the_restore_drill_signals_under_names_of_its_own():
    assert sw.signals_query_args(sw.HOLD_SIGNAL_PREFIX)["pattern"] == "webstack-hold-paused:%"
    assert sw.peers_query_args(sw.HOLD_READY_PREFIX, sw.HOLD_SIGNAL_PREFIX) == {
        "ready": "webstack-hold-ready:%",
        "paused": "webstack-hold-paused:%",
    }
    assert sw.signal_application_name("app1", sw.HOLD_SIGNAL_PREFIX) == "webstack-hold-paused:app1"


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


def test_critical_section_params_accepted(critical_section_options):
    assert sw.critical_section_params_error(critical_section_options, ("catchup_timeout",)) is None


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"bouncers": []}, "at least one PgBouncer host"),
        ({"bouncers": ["app 1"]}, "letters, digits"),
        ({"bouncers": ["a", "a"]}, "twice"),
        ({"catchup_timeout": 0}, "catchup_timeout must be positive"),
        ({"poll_interval_ms": 0}, "poll_interval_ms"),
        ({"poll_interval_ms": 2000}, "poll_interval_ms"),
        ({"pause_timeout": 7}, "leaves no time to promote"),
    ],
)
def test_critical_section_params_refused(critical_section_options, change, fragment):
    options = {**critical_section_options, **change}
    assert fragment in sw.critical_section_params_error(options, ("catchup_timeout",))


def test_signal_decision_waits_for_missing_bouncers():
    assert sw.signal_decision(["a", "b"], {"a": 0.1}, 5) == ("wait", ["b"])
    assert sw.signal_decision(["a"], {}, 5) == ("wait", ["a"])


def test_signal_decision_goes_when_all_paused_and_young():
    assert sw.signal_decision(["a", "b"], {"a": 0.1, "b": 4.9, "stranger": 99}, 5) == ("go", None)


def test_signal_decision_refuses_when_the_oldest_pause_is_too_old():
    assert sw.signal_decision(["a", "b"], {"a": 0.1, "b": 5.5}, 5) == ("late", 5.5)


class ScriptedSignals:
    """A connection to the server the PgBouncer hosts signal on: each read of pg_stat_activity shows the next
    {name: age} of READS (the last one stays)."""

    description = ("name", "age")

    def __init__(self, *reads):
        self.reads = list(reads)
        self.queries = []

    def cursor(self, cursor_factory=None):
        return self

    def execute(self, sql, args):
        self.queries.append(args)
        seen = self.reads.pop(0) if len(self.reads) > 1 else self.reads[0]
        self.rows = [{"name": name, "age": age} for name, age in seen.items()]

    def fetchall(self):
        return self.rows

    def close(self):
        pass


def test_wait_for_signals_reads_until_every_host_signalled_and_hands_over_each_read():
    conn = ScriptedSignals({"a": 0.1}, {"a": 0.2, "b": 0.05})
    reads = []
    deadline = time.monotonic() + 5
    decision = sw.wait_for_signals(conn, ["a", "b"], 5, deadline, 0.001, reads.append, sw.HOLD_SIGNAL_PREFIX)
    assert decision == ("go", None)
    assert reads == [{"a": 0.1}, {"a": 0.2, "b": 0.05}]
    assert conn.queries == [sw.signals_query_args(sw.HOLD_SIGNAL_PREFIX)] * 2


def test_wait_for_signals_gives_up_at_the_deadline_naming_the_missing_host():
    conn = ScriptedSignals({"a": 0.1})
    reads = []
    assert sw.wait_for_signals(conn, ["a", "b"], 5, time.monotonic() + 0.05, 0.01, reads.append) == ("wait", ["b"])
    assert reads[-1] == {"a": 0.1}
    assert conn.queries[-1] == sw.signals_query_args(sw.SIGNAL_PREFIX)


def test_wait_for_signals_stops_at_a_pause_too_old():
    conn = ScriptedSignals({"a": 0.1, "b": 7.5})
    assert sw.wait_for_signals(conn, ["a", "b"], 5, time.monotonic() + 5, 0.01, lambda seen: None) == ("late", 7.5)


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


SERVER_LOGIN = {
    "switchover_user": "switchover",
    "switchover_password": "pw",
    "switchover_db": "postgres",
    "login_host": "",
    "login_unix_socket": "",
    "connect_timeout": 10,
    "ssl_mode": "prefer",
    "ca_cert": None,
}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({}, ("prefer", None, "ssl_mode", "switchover_ca_cert")),
        (
            {"switchover_ssl_mode": "verify-full", "switchover_ca_cert": "/pg-ca.crt"},
            ("verify-full", "/pg-ca.crt", "switchover_ssl_mode", "switchover_ca_cert"),
        ),
        # unset, the login's TLS applies to the servers as it did before the switchover_* options
        ({"ssl_mode": "verify-full", "ca_cert": "/ca.crt"}, ("verify-full", "/ca.crt", "ssl_mode", "ca_cert")),
        # the switchover's own win over the login's (PgBouncer's admin console may verify another CA)
        (
            {
                "ssl_mode": "require",
                "ca_cert": "/console-ca.crt",
                "switchover_ssl_mode": "verify-full",
                "switchover_ca_cert": "/pg-ca.crt",
            },
            ("verify-full", "/pg-ca.crt", "switchover_ssl_mode", "switchover_ca_cert"),
        ),
        ({"ssl_mode": None}, ("prefer", None, "ssl_mode", "switchover_ca_cert")),
    ],
)
def test_server_tls_takes_the_switchover_options_else_the_logins(change, expected):
    tls = sw.server_tls({**SERVER_LOGIN, **change})
    assert (tls["ssl_mode"], tls["ca_cert"], tls["mode_option"], tls["ca_option"]) == expected


def test_server_params_connect_to_the_server_with_the_switchover_tls():
    params = {**SERVER_LOGIN, "switchover_ssl_mode": "verify-full", "switchover_ca_cert": "/pg-ca.crt"}
    kwargs = connection_kwargs(sw.server_params(params, "10.0.0.11", 5433, connect_timeout=5))
    assert (kwargs["host"], kwargs["port"], kwargs["user"]) == ("10.0.0.11", 5433, "switchover")
    assert kwargs["password"] == "pw"
    assert (kwargs["sslmode"], kwargs["sslrootcert"], kwargs["connect_timeout"]) == ("verify-full", "/pg-ca.crt", 5)
    # the login's own connection keeps its TLS
    assert connection_kwargs(params)["sslmode"] == "prefer" and "sslrootcert" not in connection_kwargs(params)


def test_server_tls_error_names_the_option_to_set():
    def no_problem(_path):
        return None

    error = sw.server_tls_error({**SERVER_LOGIN, "switchover_ssl_mode": "verify-full"}, no_problem)
    assert "switchover_ssl_mode=verify-full" in error and "switchover_ca_cert is not set" in error
    error = sw.server_tls_error({**SERVER_LOGIN, "ssl_mode": "verify-ca", "ca_cert": "/gone"}, lambda path: "is gone")
    assert error.startswith("ca_cert /gone is gone, and ssl_mode=verify-ca")
    assert sw.server_tls_error({**SERVER_LOGIN, "switchover_ssl_mode": "require"}, no_problem) is None
    params = {**SERVER_LOGIN, "switchover_ssl_mode": "verify-full", "switchover_ca_cert": "/pg-ca.crt"}
    assert sw.server_tls_error(params, no_problem) is None


def test_server_error_hint_names_the_ca_option_in_use():
    params = {**SERVER_LOGIN, "switchover_ssl_mode": "verify-full", "switchover_ca_cert": "/pg-ca.crt"}
    hint = sw.server_error_hint(params, "certificate verify failed", "10.0.0.11")
    assert "switchover_ca_cert (/pg-ca.crt)" in hint and "(10.0.0.11)" in hint
    assert sw.server_error_hint(params, "timeout expired", "10.0.0.11") == ""


def test_the_stop_signal_carries_the_checkpoint_location():
    assert sw.stopped_application_name("0/5A0010D8") == "webstack-switchover-stopped:0/5A0010D8"
    assert len(sw.stopped_application_name("FFFFFFFF/FFFFFFFF")) <= 63
    args = sw.stopped_query_args()
    assert args["pattern"] == "webstack-switchover-stopped:%"
    assert args["offset"] == len("webstack-switchover-stopped:") + 1


CONTROLDATA = """pg_control version number:            1700
Database cluster state:               shut down
Latest checkpoint location:           0/5A0010D8
Latest checkpoint's REDO location:    0/5A0010D8
"""


def test_a_clean_shutdown_gives_its_checkpoint():
    fields = sw.controldata_fields(CONTROLDATA)
    assert fields["Latest checkpoint's REDO location"] == "0/5A0010D8"
    assert sw.shutdown_checkpoint(fields) == ("0/5A0010D8", None)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (CONTROLDATA.replace("shut down", "in production"), "'in production', not 'shut down'"),
        (CONTROLDATA.replace("shut down", "shut down in recovery"), "not 'shut down'"),
        ("Database cluster state: shut down\n", "no usable latest checkpoint location"),
        ("", "state None"),
    ],
)
def test_anything_but_a_clean_shutdown_is_refused(text, fragment):
    location, why = sw.shutdown_checkpoint(sw.controldata_fields(text))
    assert location is None and fragment in why


def test_an_archive_lookup_reports_its_exit_status_and_fetches_the_file(tmp_path):
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / "00000003.history").write_text("2\t0/3000000\tno recovery target specified\n")
    command = f"cp {tmp_path}/archive/%f %p"
    fetched = tmp_path / "00000003.history"
    assert sw.fetch_from_archive(sw.expand_restore_command(command, "00000003.history", str(fetched)), 5) == 0
    assert fetched.read_text().startswith("2\t")
    assert sw.fetch_from_archive(sw.expand_restore_command(command, "00000004.history", str(tmp_path / "x")), 5) != 0


def test_an_archive_lookup_that_hangs_is_killed_with_what_it_started():
    started = time.monotonic()
    # the shell starts a child that would outlive it: the whole session goes
    assert sw.fetch_from_archive("sleep 29.71 & sleep 29.71; wait", 0.3) is None
    assert time.monotonic() - started < 5
    assert subprocess.run(["pgrep", "-f", "^sleep 29.71$"], capture_output=True, check=False).returncode == 1
