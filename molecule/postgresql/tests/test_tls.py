"""TLS inside the data tier: every TCP connection to PostgreSQL is encrypted and verified, and a new certificate
is taken by a reload.

Plaintext TCP is refused (pg_hba's lines are hostssl), the standby streams over TLS (verify-full), PgBouncer's
server connections are TLS, a name the certificate does not hold is refused by verify-full, and a certificate issued
again (the role run with one more name) is taken by a reload: the postmaster keeps running, PgBouncer's server
connections survive and new ones verify the new certificate.
"""

import re

from test_data_tier import address, client, sql


def through_pgbouncer(tier, query):
    result = client(tier.app_client, "127.0.0.1", query, tier.shop_password, port=6432)
    assert result.rc == 0, result.stderr
    return result.stdout.strip()


def served_certificate(tier):
    """Serial and names of the certificate the primary serves on its private address (asked on the primary)."""
    command = (
        f"openssl s_client -starttls postgres -connect {address(tier.primary)}:5432 </dev/null 2>/dev/null"
        " | openssl x509 -noout -serial -ext subjectAltName"
    )
    return tier.primary.check_output(command)


def pgbouncer_server_pids(tier):
    query = f"SELECT pid FROM pg_stat_activity WHERE client_addr = '{address(tier.app)}'"
    return set(sql(tier.primary, query, "postgres").split())


def test_the_primary_refuses_plaintext_over_tcp(tier):
    result = tier.app_client.run(
        f"PGSSLMODE=disable PGPASSWORD={tier.shop_password} PGCONNECT_TIMEOUT=5 "
        f"psql -XAtq -h {address(tier.primary)} -U shop -d shop -c 'SELECT 1'"
    )
    assert result.rc != 0
    assert "no pg_hba.conf entry" in result.stderr and "no encryption" in result.stderr, result.stderr


def test_every_tcp_rule_of_pg_hba_needs_tls(tier):
    types = sql(tier.primary, "SELECT DISTINCT type FROM pg_hba_file_rules WHERE error IS NULL", "postgres")
    assert set(types.split()) == {"local", "hostssl"}
    assert sql(tier.primary, "SHOW ssl") == "on"
    assert sql(tier.primary, "SHOW ssl_min_protocol_version") == "TLSv1.2"


def test_the_standby_streams_over_verified_tls(tier):
    query = (
        "SELECT s.ssl FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) "
        f"WHERE r.application_name = '{tier.standby_slot}'"
    )
    assert sql(tier.primary, query, "postgres") == "t"
    conninfo = sql(tier.standby, "SELECT conninfo FROM pg_stat_wal_receiver", "postgres")
    assert "sslmode=verify-full" in conninfo and "sslrootcert=" in conninfo


def test_pgbouncer_speaks_verified_tls_to_the_primary(tier):
    assert through_pgbouncer(tier, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") == "t"
    settings = tier.app.file("/etc/pgbouncer/pgbouncer.ini").content_string
    assert "server_tls_sslmode = verify-full" in settings


def test_verify_full_refuses_a_name_the_certificate_does_not_hold(tier):
    def connect(host):
        return tier.app_client.run(
            f"PGPASSWORD={tier.shop_password} PGCONNECT_TIMEOUT=5 psql -XAtq "
            f"'host={host} hostaddr={address(tier.primary)} user=shop dbname=shop "
            f"sslmode=verify-full sslrootcert={tier.client_ca}' -c 'SELECT 1'"
        )

    verified = connect(address(tier.primary))
    assert verified.rc == 0, verified.stderr
    refused = connect("not-in-the-certificate.example")
    assert refused.rc != 0
    assert "does not match host name" in refused.stderr, refused.stderr


def test_a_new_certificate_is_taken_by_a_reload(tier):
    through_pgbouncer(tier, "SELECT 1")
    started = sql(tier.primary, "SELECT pg_postmaster_start_time()")
    before = served_certificate(tier)
    sessions = pgbouncer_server_pids(tier)
    assert sessions, "PgBouncer holds no server connection to the primary"

    rc, out = tier.run_the_role({"postgresql_tls_names": ["rotated.example"]})
    assert rc == 0, out[-3000:]

    after = served_certificate(tier)
    assert "rotated.example" in after and "rotated.example" not in before
    assert re.search(r"serial=\w+", after).group(0) != re.search(r"serial=\w+", before).group(0)
    assert sql(tier.primary, "SELECT pg_postmaster_start_time()") == started
    # PgBouncer was not touched: its server connections from before the reload are still there, and it still works.
    assert sessions & pgbouncer_server_pids(tier)
    assert through_pgbouncer(tier, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") == "t"
    plaintext = (
        "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE client_addr IS NOT NULL AND NOT ssl"
    )
    assert sql(tier.primary, plaintext, "postgres") == "0"
