# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

import pytest
from ansible_collections.opsforge.webstack.plugins.modules import pg_table_checksums as checksums
from ansible_collections.opsforge.webstack.plugins.modules import pgbouncer_hold as mod

GOOD = {
    "signal_name": "app1",
    "primary_host": "10.0.0.11",
    "primary_port": 5432,
    "peers": ["app1", "app2", "worker1"],
    "barrier_timeout": 10,
    "pause_wait": 3,
    "hold_timeout": 10,
    "poll_interval_ms": 20,
}


def test_validate_params_accepts():
    assert mod.validate_params(GOOD) is None
    assert mod.validate_params({**GOOD, "peers": []}) is None


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"signal_name": "a b"}, "letters, digits"),
        ({"peers": ["app2", "worker1"]}, "peers must include this host's signal_name 'app1'"),
        ({"peers": ["app1", "app:2"]}, "peers: signal name 'app:2'"),
        ({"barrier_timeout": 0}, "barrier_timeout must be positive"),
        ({"hold_timeout": -1}, "hold_timeout must be positive"),
        ({"pause_wait": 0}, "pause_wait must be positive"),
        ({"poll_interval_ms": 0}, "poll_interval_ms"),
        ({"switchover_ssl_mode": "verify-full"}, "switchover_ca_cert"),
    ],
)
def test_validate_params_rejects(change, fragment):
    assert fragment in mod.validate_params({**GOOD, **change})


CHECKSUMS = {"hold_bouncers": ["app1", "app2"], "hold_timeout": 10, "hold_signal_timeout": 20}


def test_the_snapshot_side_accepts_a_hold_or_none():
    assert checksums.validate_params(CHECKSUMS) is None
    assert checksums.validate_params({**CHECKSUMS, "hold_bouncers": []}) is None


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"hold_bouncers": ["app1", "app1"]}, "lists a name twice"),
        ({"hold_bouncers": ["app 1"]}, "hold_bouncers: signal name 'app 1'"),
        ({"hold_signal_timeout": 0}, "hold_signal_timeout must be positive"),
        ({"hold_timeout": 2.5}, "hold_timeout (2.5 s) leaves no time for the snapshot"),
    ],
)
def test_the_snapshot_side_refuses_unusable_bounds(change, fragment):
    assert fragment in checksums.validate_params({**CHECKSUMS, **change})
