"""The data tier streams, authenticates with SCRAM only, and serves clients through PgBouncer."""

import time
import uuid

import pytest
import testinfra

DB1 = testinfra.get_host("podman://molecule-pg-db1")
DB2 = testinfra.get_host("podman://molecule-pg-db2")
APP = testinfra.get_host("podman://molecule-pg-app")
STRANGER = testinfra.get_host("podman://molecule-pg-stranger")
SHOP_PASSWORD = "molecule-shop-secret-000"

testinfra_hosts = ["podman://molecule-pg-app"]


def sql(host, query, database="shop"):
    return host.check_output(f'runuser -u postgres -- psql -XAtq -d {database} -c "{query}"')


def client(host, address, query, password=SHOP_PASSWORD, database="shop", port=5432, user="shop"):
    connection = f"-h {address} -p {port} -U {user} -d {database}"
    return host.run(f'PGPASSWORD={password} PGCONNECT_TIMEOUT=5 psql -XAtq {connection} -c "{query}"')


def address(host):
    return host.interface("eth0").addresses[0]


def test_primary_and_standby_roles():
    assert sql(DB1, "SELECT pg_is_in_recovery()") == "f"
    assert sql(DB2, "SELECT pg_is_in_recovery()") == "t"


def test_standby_streams_through_its_slot():
    assert sql(DB2, "SELECT status, slot_name FROM pg_stat_wal_receiver") == "streaming|molecule_pg_db2"
    assert sql(DB1, "SELECT active FROM pg_replication_slots WHERE slot_name = 'molecule_pg_db2'") == "t"


def test_a_row_written_on_the_primary_appears_on_the_standby():
    marker = uuid.uuid4().hex
    sql(DB1, f"CREATE TABLE IF NOT EXISTS molecule_probe (v text); INSERT INTO molecule_probe VALUES ('{marker}')")
    for _attempt in range(50):
        if sql(DB2, f"SELECT count(*) FROM molecule_probe WHERE v = '{marker}'") == "1":
            return
        time.sleep(0.2)
    pytest.fail("the row written on the primary did not reach the standby within 10 s")


def test_the_standby_refuses_writes():
    result = DB2.run("runuser -u postgres -- psql -XAtq -d shop -c 'CREATE TABLE molecule_refused (v int)'")
    assert result.rc != 0
    assert "read-only transaction" in result.stderr


def test_settings_for_rewind_and_scram():
    assert sql(DB1, "SHOW password_encryption") == "scram-sha-256"
    assert sql(DB1, "SHOW wal_log_hints") == "on"
    assert sql(DB1, "SHOW data_checksums") == "on"
    assert sql(DB1, "SELECT count(*) FROM pg_settings WHERE pending_restart") == "0"


def test_pg_hba_has_no_trust_and_no_md5():
    rules = sql(DB1, "SELECT DISTINCT auth_method FROM pg_hba_file_rules WHERE error IS NULL", "postgres")
    assert set(rules.split()) <= {"peer", "scram-sha-256"}


def test_pgbouncer_serves_a_scram_client_on_the_primary_and_the_standby(host):
    primary = client(host, "127.0.0.1", "SELECT pg_is_in_recovery()", port=6432)
    assert primary.rc == 0, primary.stderr
    assert primary.stdout.strip() == "f"
    standby = client(host, "127.0.0.1", "SELECT pg_is_in_recovery()", port=6432, database="shop_ro")
    assert standby.stdout.strip() == "t"


def test_pgbouncer_listens_on_localhost_only(host):
    assert host.socket("tcp://127.0.0.1:6432").is_listening
    assert not host.socket("tcp://0.0.0.0:6432").is_listening
    assert "SCRAM-SHA-256$" in host.file("/etc/pgbouncer/userlist.txt").content_string
    assert host.file("/etc/pgbouncer/userlist.txt").mode == 0o640


def test_pgbouncer_refuses_a_wrong_password(host):
    result = client(host, "127.0.0.1", "SELECT 1", password="not-the-password", port=6432)
    assert result.rc != 0
    assert "authentication failed" in result.stderr


def test_the_primary_refuses_a_wrong_password_from_a_client_host(host):
    result = client(host, address(DB1), "SELECT 1", password="not-the-password")
    assert result.rc != 0
    assert "password authentication failed" in result.stderr


def test_the_primary_refuses_an_unknown_host():
    result = client(STRANGER, address(DB1), "SELECT 1")
    assert result.rc != 0
    assert "no pg_hba.conf entry" in result.stderr
