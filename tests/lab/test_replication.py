"""Synchronous replication on the running cluster: switched on and off by site.yml with a reload only, and with it
on, a failover drill (the primary killed under writes) loses no acknowledged commit."""

import time

from conftest import failure, only_report, playbook, primary, psql

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): switches synchronous replication on and off
# and fails the primary over.
LAB_USES = {"backup": "shared", "database": "exclusive", "primary": "exclusive"}

SYNCHRONOUS = ("-e", "postgresql_synchronous=true")


def databases_with(synchronous, *tags):
    rc, out = playbook(
        "playbooks/site.yml", "--limit", "postgres", *tags, "-e", f"postgresql_synchronous={synchronous}"
    )
    assert rc == 0, failure(out)


def sync_state(host):
    deadline = time.monotonic() + 20
    while (state := psql(host, "SELECT string_agg(sync_state, ',') FROM pg_stat_replication")) not in (
        "quorum",
        "async",
    ) and time.monotonic() < deadline:
        time.sleep(1)
    return state


def started_at(host):
    return psql(host, "SELECT pg_postmaster_start_time()")


def test_synchronous_replication_switches_on_without_a_restart_loses_no_commit_in_a_failover_and_switches_off(
    tmp_path,
):
    host = primary()
    started = started_at(host)
    try:
        # The role's configuration step alone, as an operator changing a setting would run it (shorter than the
        # whole of site.yml on the members); the whole of it switches synchronous replication off again below,
        # after the failover drill.
        databases_with("true", "--tags", "postgresql_configure")
        assert psql(host, "SHOW synchronous_standby_names") == "ANY 1 (db1, db2)"
        assert sync_state(host) == "quorum"
        assert started_at(host) == started
        # A commit waits until the standby has it; unconfirmed, it would wait out the 10 s timeout
        # (which ends the wait with a warning, not an error).
        psql(host, "CREATE TABLE IF NOT EXISTS webstack_sync_probe (at timestamptz)")
        began = time.monotonic()
        assert psql(host, "SET statement_timeout = '10s'; INSERT INTO webstack_sync_probe VALUES (now())") == ""
        assert time.monotonic() - began < 5

        drill = ("-e", "drill_kind=failover", "-e", f"drill_report_dir={tmp_path}", "-e", "drill_failover_warmup=3")
        rc, out = playbook("playbooks/dr_drill.yml", *drill, *SYNCHRONOUS)
        assert rc == 0, failure(out)
        report = only_report(tmp_path, "failover")
        assert report["status"] == "passed" and report["old_primary"] == host
        assert report["source"]["replication"] == ["quorum"]
        assert report["commits"]["acknowledged"] > 0 and report["commits"]["lost"] == 0
        (no_loss,) = [check for check in report["checks"] if check["name"] == "no acknowledged commit lost"]
        assert no_loss["ok"] and "synchronous replication: must be 0" in no_loss["detail"]
        host = primary()
        assert host == report["new_primary"]
        assert sync_state(host) == "quorum"
        started = started_at(host)
    finally:
        databases_with("false")
    assert psql(host, "SHOW synchronous_standby_names") == ""
    assert sync_state(host) == "async"
    assert started_at(host) == started
    psql(host, "DROP TABLE webstack_sync_probe")
