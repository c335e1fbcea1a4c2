# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

import pytest
from ansible_collections.opsforge.webstack.plugins.modules import pg_switchover_promote as mod

GOOD = {
    "bouncers": ["app1", "app2"],
    "catchup_timeout": 3,
    "pause_timeout": 15,
    "pause_wait": 3,
    "promote_wait": 3,
    "signal_timeout": 10,
    "poll_interval_ms": 20,
}


def test_validate_params_accepts():
    assert mod.validate_params(GOOD) is None


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"bouncers": []}, "at least one PgBouncer host"),
        ({"bouncers": ["app 1"]}, "letters, digits"),
        ({"bouncers": ["a", "a"]}, "twice"),
        ({"catchup_timeout": 0}, "catchup_timeout must be positive"),
        ({"poll_interval_ms": 0}, "poll_interval_ms"),
        ({"pause_timeout": 7}, "leaves no time to promote"),
    ],
)
def test_validate_params_rejects(change, fragment):
    assert fragment in mod.validate_params({**GOOD, **change})


def test_main_rejects_bad_bounds_before_connecting(run_module_main):
    args = {
        "old_primary_host": "192.0.2.1",
        "switchover_user": "switchover",
        "switchover_password": "x" * 16,
        "bouncers": ["app1"],
        "pause_timeout": 5,
        "login_port": 1,
    }
    code, result = run_module_main(mod.main, args)
    assert code == 1 and "leaves no time to promote" in result["msg"]


def test_main_requires_the_old_primary(run_module_main):
    code, result = run_module_main(
        mod.main, {"switchover_user": "s", "switchover_password": "unit-test-secret-000", "bouncers": ["a"]}
    )
    assert code == 1 and "old_primary_host" in result["msg"]
