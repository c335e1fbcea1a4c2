"""site.yml switches synchronous replication on and off on the running cluster, with a reload only."""

import time

from conftest import playbook, primary, psql


def databases_with(synchronous):
    rc, out = playbook("playbooks/site.yml", "--limit", "postgres", "-e", f"postgresql_synchronous={synchronous}")
    assert rc == 0, out[-3000:]


def sync_state(host):
    deadline = time.monotonic() + 20
    while (state := psql(host, "SELECT string_agg(sync_state, ',') FROM pg_stat_replication")) not in (
        "quorum",
        "async",
    ) and time.monotonic() < deadline:
        time.sleep(1)
    return state


def test_synchronous_replication_switches_on_and_off_without_a_restart():
    host = primary()
    started = psql(host, "SELECT pg_postmaster_start_time()")
    try:
        databases_with("true")
        assert psql(host, "SHOW synchronous_standby_names") == "ANY 1 (db1, db2)"
        assert sync_state(host) == "quorum"
        # A commit waits until the standby has it; unconfirmed, it would wait out the 10 s timeout
        # (which ends the wait with a warning, not an error).
        psql(host, "CREATE TABLE IF NOT EXISTS webstack_sync_probe (at timestamptz)")
        began = time.monotonic()
        assert psql(host, "SET statement_timeout = '10s'; INSERT INTO webstack_sync_probe VALUES (now())") == ""
        assert time.monotonic() - began < 5
    finally:
        databases_with("false")
    assert psql(host, "SHOW synchronous_standby_names") == ""
    assert sync_state(host) == "async"
    assert psql(host, "SELECT pg_postmaster_start_time()") == started
    psql(host, "DROP TABLE webstack_sync_probe")
