"""After side_effect.yml switched db1 -> db2 -> db1 under load, the roles are back and everything streams.

On the lab (tests/lab/test_postgresql_tier.py) the same checks, but the one on side_effect.yml's two promotions,
look at the current primary and standby, whichever they are after the lab's own switchovers.
"""


def sql(host, query, database="postgres"):
    return host.check_output(f'runuser -u postgres -- psql -XAtq -d {database} -c "{query}"')


def address(host):
    return host.interface("eth0").addresses[0]


def test_db1_is_primary_again_after_two_promotions(tier):
    assert sql(tier.primary, "SELECT pg_is_in_recovery()") == "f"
    timeline = int(sql(tier.primary, "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)"), 16)
    assert timeline >= 3


def test_the_standby_streams_from_the_primary_through_its_slot(tier):
    assert sql(tier.standby, "SELECT pg_is_in_recovery()") == "t"
    assert sql(tier.standby, "SELECT status, sender_host, slot_name FROM pg_stat_wal_receiver") == (
        f"streaming|{address(tier.primary)}|{tier.standby_slot}"
    )


def test_no_switchover_leftovers(tier):
    assert not tier.app.file("/etc/pgbouncer/pgbouncer.ini.next").exists
    for host in (tier.primary, tier.standby):
        assert sql(host, "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'webstack%'") == "0"
        assert sql(host, "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'webstack%'") == "0"


def test_pgbouncer_writes_to_the_primary_and_reads_from_the_standby(tier):
    def through_bouncer(database):
        return tier.app_client.check_output(
            f"PGPASSWORD={tier.shop_password} psql -XAtq -h 127.0.0.1 -p 6432 -U shop -d {database} "
            '-c "SELECT inet_server_addr(), pg_is_in_recovery()"'
        )

    assert through_bouncer("shop") == f"{address(tier.primary)}|f"
    assert through_bouncer("shop_ro") == f"{address(tier.standby)}|t"
    assert f"Primary: {tier.primary_name};" in tier.app.file("/etc/pgbouncer/pgbouncer.ini").content_string


def test_switchover_role_logs_in_but_reads_nothing(tier):
    role = sql(tier.primary, "SELECT rolsuper, rolreplication, rolconnlimit FROM pg_roles WHERE rolname = 'switchover'")
    assert role == f"f|f|{tier.switchover_connection_limit}"
    login = (
        f"PGPASSWORD={tier.switchover_password} PGCONNECT_TIMEOUT=5 psql -XAtq -h {address(tier.primary)} -U switchover"
    )
    assert tier.app_client.check_output(f'{login} -d postgres -c "SELECT 1"') == "1"
    # A table of the shop's (side_effect.yml's probe table in the scenario, the app's own on the lab).
    shop_table = sql(
        tier.primary, "SELECT tablename FROM pg_tables WHERE tableowner = 'shop' ORDER BY 1 LIMIT 1", "shop"
    )
    denied = tier.app_client.run(f'{login} -d shop -c "SELECT count(*) FROM {shop_table}"')
    assert denied.rc != 0 and "permission denied" in denied.stderr
