"""The data tier streams, authenticates with SCRAM only, and serves clients through PgBouncer.

The checks take the tier they look at from the `tier` fixture: the scenario's instances (conftest.py here), or
the lab's data tier (tests/lab/test_postgresql_tier.py runs these same checks in the lab phase of `./dev test`).
"""

import time
import uuid

import pytest


def sql(host, query, database="shop"):
    return host.check_output(f'runuser -u postgres -- psql -XAtq -d {database} -c "{query}"')


def client(host, address, query, password, database="shop", port=5432, user="shop"):
    connection = f"-h {address} -p {port} -U {user} -d {database}"
    return host.run(f'PGPASSWORD={password} PGCONNECT_TIMEOUT=5 psql -XAtq {connection} -c "{query}"')


def address(host):
    return host.interface("eth0").addresses[0]


def test_primary_and_standby_roles(tier):
    assert sql(tier.primary, "SELECT pg_is_in_recovery()") == "f"
    assert sql(tier.standby, "SELECT pg_is_in_recovery()") == "t"


def test_standby_streams_through_its_slot(tier):
    assert sql(tier.standby, "SELECT status, slot_name FROM pg_stat_wal_receiver") == f"streaming|{tier.standby_slot}"
    slot_active = f"SELECT active FROM pg_replication_slots WHERE slot_name = '{tier.standby_slot}'"
    assert sql(tier.primary, slot_active) == "t"


def test_a_row_written_on_the_primary_appears_on_the_standby(tier):
    marker = uuid.uuid4().hex
    sql(
        tier.primary,
        f"CREATE TABLE IF NOT EXISTS replication_probe (v text); INSERT INTO replication_probe VALUES ('{marker}')",
    )
    try:
        for _attempt in range(50):
            if sql(tier.standby, f"SELECT count(*) FROM replication_probe WHERE v = '{marker}'") == "1":
                return
            time.sleep(0.2)
        pytest.fail("the row written on the primary did not reach the standby within 10 s")
    finally:
        sql(tier.primary, "DROP TABLE replication_probe")


def test_the_standby_refuses_writes(tier):
    result = tier.standby.run("runuser -u postgres -- psql -XAtq -d shop -c 'CREATE TABLE refused_probe (v int)'")
    assert result.rc != 0
    assert "read-only transaction" in result.stderr


def test_settings_for_rewind_and_scram(tier):
    assert sql(tier.primary, "SHOW password_encryption") == "scram-sha-256"
    assert sql(tier.primary, "SHOW wal_log_hints") == "on"
    assert sql(tier.primary, "SHOW data_checksums") == "on"
    assert sql(tier.primary, "SELECT count(*) FROM pg_settings WHERE pending_restart") == "0"


def test_pg_hba_has_no_trust_and_no_md5(tier):
    rules = sql(tier.primary, "SELECT DISTINCT auth_method FROM pg_hba_file_rules WHERE error IS NULL", "postgres")
    assert set(rules.split()) <= {"peer", "scram-sha-256"}


def test_pgbouncer_serves_a_scram_client_on_the_primary_and_the_standby(tier):
    primary = client(tier.app_client, "127.0.0.1", "SELECT pg_is_in_recovery()", tier.shop_password, port=6432)
    assert primary.rc == 0, primary.stderr
    assert primary.stdout.strip() == "f"
    standby = client(
        tier.app_client, "127.0.0.1", "SELECT pg_is_in_recovery()", tier.shop_password, database="shop_ro", port=6432
    )
    assert standby.stdout.strip() == "t"


def test_pgbouncer_listens_on_localhost_only(tier):
    assert tier.app.socket("tcp://127.0.0.1:6432").is_listening
    assert not tier.app.socket("tcp://0.0.0.0:6432").is_listening
    assert "SCRAM-SHA-256$" in tier.app.file("/etc/pgbouncer/userlist.txt").content_string
    assert tier.app.file("/etc/pgbouncer/userlist.txt").mode == 0o640


def test_pgbouncer_refuses_a_wrong_password(tier):
    result = client(tier.app_client, "127.0.0.1", "SELECT 1", "not-the-password", port=6432)
    assert result.rc != 0
    assert "authentication failed" in result.stderr


def test_the_primary_refuses_a_wrong_password_from_a_client_host(tier):
    result = client(tier.app_client, address(tier.primary), "SELECT 1", "not-the-password")
    assert result.rc != 0
    assert "password authentication failed" in result.stderr


def test_the_primary_refuses_an_unknown_host(tier):
    result = client(tier.stranger, address(tier.primary), "SELECT 1", tier.shop_password)
    assert result.rc != 0
    assert "no pg_hba.conf entry" in result.stderr
