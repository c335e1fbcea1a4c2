"""The playbooks that promote, stop or restart PostgreSQL members themselves refuse a cluster that Patroni runs
(postgresql_ha: patroni) before they reach any host: done behind Patroni's back, that can leave two primaries.
switchover.yml asks Patroni to switch in that mode and patch.yml restarts the members through Patroni
(molecule/patroni); both refuse a group that mixes the modes."""

import time
from pathlib import Path

import pytest

PLAYBOOKS = Path(__file__).resolve().parents[3] / "playbooks"
# Addresses of TEST-NET-1 (RFC 5737): nothing answers there, so a play that tried to reach a host would hang on it
# and end unreachable, not with the refusal.
INVENTORY = """\
[postgres]
db1 ansible_host=192.0.2.1 postgresql_ha=patroni
db2 ansible_host=192.0.2.2 postgresql_ha=patroni
[pgbouncer]
app1 ansible_host=192.0.2.3
[backup:children]
postgres
"""


@pytest.mark.parametrize(("playbook", "instead"), [("failover.yml", "Patroni promotes a standby by itself")])
def test_a_patroni_cluster_is_refused_before_any_host_is_reached(tmp_path, run_playbook, playbook, instead):
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(INVENTORY)
    started = time.monotonic()
    returncode, output = run_playbook(
        f"- ansible.builtin.import_playbook: {PLAYBOOKS / playbook}\n", "-i", str(inventory), timeout=120
    )
    assert returncode == 2, output
    assert "would act behind Patroni's back on db1, db2 (postgresql_ha: patroni)" in output
    assert instead in output
    assert "Nothing was changed." in output
    assert "unreachable=1" not in output
    assert time.monotonic() - started < 60, "a host was waited for"


@pytest.mark.parametrize(
    ("playbook", "nothing_changed"),
    [("switchover.yml", "Nothing was changed."), ("patch.yml", "No host was patched")],
)
def test_a_group_that_mixes_the_modes_is_refused_before_any_host_is_reached(
    tmp_path, run_playbook, playbook, nothing_changed
):
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        INVENTORY.replace("db2 ansible_host=192.0.2.2 postgresql_ha=patroni", "db2 ansible_host=192.0.2.2")
    )
    started = time.monotonic()
    returncode, output = run_playbook(
        f"- ansible.builtin.import_playbook: {PLAYBOOKS / playbook}\n", "-i", str(inventory), timeout=120
    )
    assert returncode == 2, output
    assert "postgresql_ha is patroni for db1 only, in group 'postgres' (db1, db2)" in output
    assert nothing_changed in output
    assert "unreachable=1" not in output
    assert time.monotonic() - started < 60, "a host was waited for"
