# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

import pytest
from ansible_collections.opsforge.webstack.plugins.modules import pg_switchover_stop as mod

GOOD = {
    "bouncers": ["app1"],
    "stop_timeout": 5,
    "catchup_timeout": 3,
    "pause_timeout": 15,
    "pause_wait": 3,
    "promote_wait": 3,
    "signal_timeout": 20,
    "poll_interval_ms": 20,
}


def test_validate_params_accepts():
    assert mod.validate_params(GOOD) is None


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"bouncers": []}, "at least one PgBouncer host"),
        ({"bouncers": ["app 1"]}, "letters, digits"),
        ({"stop_timeout": 0}, "stop_timeout must be positive"),
        ({"poll_interval_ms": 2000}, "poll_interval_ms"),
        ({"pause_timeout": 7}, "leaves no time to promote"),
    ],
)
def test_validate_params_rejects(change, fragment):
    assert fragment in mod.validate_params({**GOOD, **change})


def test_the_postmaster_pid_is_the_first_line(tmp_path):
    (tmp_path / "postmaster.pid").write_text("4242\n/var/lib/postgresql/17/main\n")
    assert mod.postmaster_pid(str(tmp_path)) == 4242
    (tmp_path / "postmaster.pid").unlink()
    assert mod.postmaster_pid(str(tmp_path)) is None
