# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

import pytest
from ansible_collections.opsforge.webstack.plugins.modules import pg_promote as mod


def test_measure_lag_uses_primary_lsn_when_given():
    assert mod.measure_lag("0/3000100", "0/3000000", "0/3001000") == 0x1000
    assert mod.measure_lag("0/3000100", "0/3000000") == 0x100


def test_measure_lag_never_negative_and_unknown():
    assert mod.measure_lag("0/3000000", "0/3000000", "0/2000000") == 0
    assert mod.measure_lag(None, None) is None
    assert mod.measure_lag(None, "0/1") is None


@pytest.mark.parametrize(
    ("lag", "bound", "refused"),
    [(0, None, False), (10**9, None, False), (0, 0, False), (1, 0, True), (100, 100, False), (None, 5, True)],
)
def test_lag_refusal(lag, bound, refused):
    assert (mod.lag_refusal(lag, bound) is not None) is refused


def test_lag_refusal_message_names_the_numbers():
    assert mod.lag_refusal(4096, 1024) == "the standby is 4096 bytes behind, more than max_lag_bytes=1024"


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"primary_lsn": "abc"}, "is not an LSN"),
        ({"max_lag_bytes": -1}, "max_lag_bytes cannot be negative"),
        ({"catchup_timeout": -3}, "catchup_timeout cannot be negative"),
        ({"wait_seconds": 0}, "wait_seconds must be at least 1"),
    ],
)
def test_validate_params_rejects(params, fragment):
    assert fragment in mod.validate_params(params)


def test_validate_params_accepts():
    assert mod.validate_params({"primary_lsn": "0/3000148", "max_lag_bytes": 0, "wait_seconds": 60}) is None


def test_main_rejects_bad_lsn_before_connecting(run_module_main):
    code, result = run_module_main(mod.main, {"primary_lsn": "zz", "login_port": 1})
    assert code == 1 and "primary_lsn 'zz' is not an LSN" in result["msg"]


def test_main_rejects_wrong_types(run_module_main):
    code, result = run_module_main(mod.main, {"max_lag_bytes": "lots"})
    assert code == 1 and "max_lag_bytes" in result["msg"]
