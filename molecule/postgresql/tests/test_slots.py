"""Replication slots cannot fill the primary's disk: bounded WAL, former members' slots dropped, idle ones reported.

The role runs again through ansible-playbook against the scenario's inventory (the PostgreSQL play of
converge.yml, on the two members) while db2 is stopped, with a slot left by a member that is no longer in the
inventory and a slot of another tool on the primary.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import testinfra

DB1 = testinfra.get_host("podman://molecule-pg-db1")
DB2 = testinfra.get_host("podman://molecule-pg-db2")
RECORD = "/etc/postgresql/15/main/webstack-member-slots"

testinfra_hosts = ["podman://molecule-pg-db1"]


def sql(host, query, database="postgres"):
    return host.check_output(f'runuser -u postgres -- psql -XAtq -d {database} -c "{query}"')


def slots(host):
    return set(sql(host, "SELECT slot_name FROM pg_replication_slots").split())


def said(out):
    """The output without colours and with every run of white space made one space (long messages are wrapped)."""
    return " ".join(re.sub(r"\x1b\[[0-9;]*m", "", out).split())


def run_the_role(extra_vars=None):
    """The scenario's converge.yml on the two members; return (rc, output)."""
    scenario = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            *("-i", str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent)),
            str(scenario / "converge.yml"),
            *("--limit", "molecule-pg-db1,molecule-pg-db2"),
            *("-e", json.dumps(extra_vars or {})),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"},
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def test_slots_keep_a_bounded_amount_of_wal():
    for host in (DB1, DB2):
        assert sql(host, "SHOW max_slot_wal_keep_size") == "8GB"
    # The role remembers the members whose slots it keeps, on every member.
    for host in (DB1, DB2):
        lines = host.file(RECORD).content_string.splitlines()
        assert [line for line in lines if not line.startswith("#")] == ["molecule_pg_db1", "molecule_pg_db2"]


def test_former_members_slots_dropped_idle_ones_reported_others_left_alone():
    # A member that has left the inventory (its slot recorded when it was one), and another tool's slot.
    DB1.check_output(f"echo molecule_pg_gone >> {RECORD}")
    for slot in ("molecule_pg_gone", "barman_probe"):
        sql(DB1, f"SELECT pg_create_physical_replication_slot('{slot}', true)")
    sql(DB1, "CREATE TABLE IF NOT EXISTS slot_probe (v text); INSERT INTO slot_probe SELECT repeat('x', 1000)", "shop")
    sql(DB1, "SELECT pg_switch_wal()")
    # db2 is down: its slot on the primary is not in use and keeps WAL.
    DB2.check_output("systemctl stop postgresql@15-main")
    try:
        rc, out = run_the_role()
    finally:
        DB2.run("systemctl start postgresql@15-main")
    assert rc == 0, out
    text = said(out)
    assert "[WARNING]: replication slot molecule_pg_db2 is inactive: no standby streams from it, and it keeps" in text
    assert "dropping slot molecule_pg_gone: its host is no longer in group postgres, and it kept" in text
    assert "barman_probe" not in text

    assert "molecule_pg_gone" not in slots(DB1)
    assert "barman_probe" in slots(DB1), "a slot the role never made was dropped"
    assert "molecule_pg_gone" not in DB1.file(RECORD).content_string
    # The role started db2 again, and it streams through its slot.
    assert sql(DB2, "SELECT status, slot_name FROM pg_stat_wal_receiver") == "streaming|molecule_pg_db2"
    sql(DB1, "SELECT pg_drop_replication_slot('barman_probe')")


def test_unbounded_slot_wal_refused():
    rc, out = run_the_role({"postgresql_max_slot_wal_keep_size": "-1"})
    assert rc != 0
    assert "postgresql_max_slot_wal_keep_size must be a size with a unit" in said(out)
    assert sql(DB1, "SHOW max_slot_wal_keep_size") == "8GB"
