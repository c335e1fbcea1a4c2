"""After side_effect.yml switched db1 -> db2 -> db1 under load, the roles are back and everything streams."""

import testinfra

DB1 = testinfra.get_host("podman://molecule-pg-db1")
DB2 = testinfra.get_host("podman://molecule-pg-db2")
APP = testinfra.get_host("podman://molecule-pg-app")
SHOP_PASSWORD = "molecule-shop-secret-000"
SWITCHOVER_PASSWORD = "molecule-switchover-secret"

testinfra_hosts = ["podman://molecule-pg-app"]


def sql(host, query, database="postgres"):
    return host.check_output(f'runuser -u postgres -- psql -XAtq -d {database} -c "{query}"')


def address(host):
    return host.interface("eth0").addresses[0]


def test_db1_is_primary_again_after_two_promotions():
    assert sql(DB1, "SELECT pg_is_in_recovery()") == "f"
    timeline = int(sql(DB1, "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)"), 16)
    assert timeline >= 3


def test_db2_streams_from_db1_through_its_slot():
    assert sql(DB2, "SELECT pg_is_in_recovery()") == "t"
    assert sql(DB2, "SELECT status, sender_host, slot_name FROM pg_stat_wal_receiver") == (
        f"streaming|{address(DB1)}|molecule_pg_db2"
    )


def test_no_switchover_leftovers():
    assert not APP.file("/etc/pgbouncer/pgbouncer.ini.next").exists
    for host in (DB1, DB2):
        assert sql(host, "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'webstack%'") == "0"
        assert sql(host, "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'webstack%'") == "0"


def test_pgbouncer_writes_to_db1_and_reads_from_db2():
    def through_bouncer(database):
        return APP.check_output(
            f"PGPASSWORD={SHOP_PASSWORD} psql -XAtq -h 127.0.0.1 -p 6432 -U shop -d {database} "
            '-c "SELECT inet_server_addr(), pg_is_in_recovery()"'
        )

    assert through_bouncer("shop") == f"{address(DB1)}|f"
    assert through_bouncer("shop_ro") == f"{address(DB2)}|t"
    assert "Primary: molecule-pg-db1;" in APP.file("/etc/pgbouncer/pgbouncer.ini").content_string


def test_switchover_role_logs_in_but_reads_nothing():
    role = sql(DB1, "SELECT rolsuper, rolreplication, rolconnlimit FROM pg_roles WHERE rolname = 'switchover'")
    assert role == "f|f|4"
    login = f"PGPASSWORD={SWITCHOVER_PASSWORD} PGCONNECT_TIMEOUT=5 psql -XAtq -h {address(DB1)} -U switchover"
    assert APP.check_output(f'{login} -d postgres -c "SELECT 1"') == "1"
    denied = APP.run(f'{login} -d shop -c "SELECT count(*) FROM switchover_probe"')
    assert denied.rc != 0 and "permission denied" in denied.stderr
