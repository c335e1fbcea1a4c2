"""playbooks/ha_mode.yml refuses bad inputs before it reaches any host: a mode it does not know, and a value of the
wrong type (the play's argument spec), each saying which input is wrong."""

import time
from pathlib import Path

import pytest

PLAYBOOK = Path(__file__).resolve().parents[3] / "playbooks" / "ha_mode.yml"
# TEST-NET-1 (RFC 5737): nothing answers there, so a play that tried to reach a host would end unreachable.
INVENTORY = """\
[postgres]
db1 ansible_host=192.0.2.1
db2 ansible_host=192.0.2.2
[etcd:children]
postgres
[pgbouncer]
app1 ansible_host=192.0.2.3
"""


@pytest.mark.parametrize(
    ("extra", "refusal"),
    [
        (["-e", "ha_mode=auto"], "ha_mode must be patroni or manual, not 'auto'"),
        (["-e", "ha_mode=patroni", "-e", "ha_mode_max_lag_bytes=lots"], "argument 'ha_mode_max_lag_bytes' is of type"),
        (["-e", "ha_mode=manual", "-e", "ha_mode_pause_timeout=soon"], "argument 'ha_mode_pause_timeout' is of type"),
    ],
)
def test_bad_inputs_are_refused_before_any_host_is_reached(tmp_path, run_playbook, extra, refusal):
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(INVENTORY)
    started = time.monotonic()
    returncode, output = run_playbook(
        f"- ansible.builtin.import_playbook: {PLAYBOOK}\n", "-i", str(inventory), *extra, timeout=120
    )
    assert returncode == 2, output
    assert refusal in output, output[-3000:]
    assert "unreachable=1" not in output
    assert time.monotonic() - started < 60, "a host was waited for"
