# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Integration tests of the switchover modules against real PostgreSQL 15 and PgBouncer on loopback.

Each test gets its own servers (the fixtures in conftest.py): node_a is the primary, pg_standby clones
node_b, PgBouncer serves node_a, and the two halves of the critical section (pg_switchover_promote and
pgbouncer_switchover) run at the same time, as the playbook's async jobs do, while a client writes through
PgBouncer. The TLS tests give both servers a certificate from a throwaway CA and check that the switchover's
connections verify it (verify-full), and refuse a wrong CA or a certificate for another name before anything is
paused or promoted.
"""

import datetime
import ipaddress
import os
import pwd
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pglab import PG_BIN, PRIMARY_PORT, REPL_PW, STANDBY_PORT, Writer, psycopg2, run, served_by, side_by_side

SWITCH_PW = "switch-Secret-4"
# The login every module of the critical section uses on the database servers.
SWITCH_LOGIN = {"switchover_user": "switchover", "switchover_password": SWITCH_PW}


@pytest.fixture
def cluster(lab, bouncer):
    """node_a primary with a probe table and the switchover role, node_b streaming from it, PgBouncer on
    node_a; the admin console login."""
    lab.sql(PRIMARY_PORT, "CREATE ROLE switchover LOGIN CONNECTION LIMIT 5 PASSWORD %s", (SWITCH_PW,))
    lab.sql(PRIMARY_PORT, "CREATE TABLE probe (id bigserial PRIMARY KEY, client int)")
    lab.clone_standby()
    return bouncer


def stage(lab, port):
    """Write the next pgbouncer.ini (shop -> port) next to the live one."""
    live = lab.base / "pgbouncer.ini"
    staged = lab.base / "pgbouncer.ini.next"
    text = live.read_text()
    start = text.index("shop = ")
    end = text.index("\n", start)
    staged.write_text(text[:start] + f"shop = host=127.0.0.1 port={port} dbname=postgres" + text[end:])
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(staged, user.pw_uid, user.pw_gid)
    return live, staged


def promote_args(lab, bouncers, **extra):
    return {
        **lab.login(STANDBY_PORT),
        **SWITCH_LOGIN,
        "old_primary_host": "127.0.0.1",
        "old_primary_port": PRIMARY_PORT,
        "bouncers": bouncers,
        **extra,
    }


def bouncer_args(lab, admin, live, staged, **extra):
    return {
        **admin,
        "old_primary_host": "127.0.0.1",
        "old_primary_port": PRIMARY_PORT,
        "target_host": "127.0.0.1",
        "target_port": STANDBY_PORT,
        **SWITCH_LOGIN,
        "signal_name": "app1",
        "staged_config": str(staged),
        "config": str(live),
        **extra,
    }


def both(lab, promote, pause):
    """Start the promoting side, then the PgBouncer side, as the playbook does; return both results."""
    return side_by_side(lab, ("pg_switchover_promote", promote), ("pgbouncer_switchover", pause))


def test_bad_arguments_are_rejected(lab, cluster):
    res = lab.module("pg_switchover_promote", promote_args(lab, ["app1"], pause_timeout=5))
    assert res["failed"] and "leaves no time to promote" in res["msg"]
    live, staged = stage(lab, STANDBY_PORT)
    res = lab.module("pgbouncer_switchover", bouncer_args(lab, cluster, live, staged, target_port=PRIMARY_PORT))
    assert res["failed"] and "are the same server" in res["msg"]
    res = lab.module("pgbouncer_switchover", bouncer_args(lab, cluster, live, lab.base / "absent.next"))
    assert res["failed"] and "nothing was paused" in res["msg"]
    res = lab.module("pg_switchover_promote", promote_args(lab, ["app1"], switchover_password="wrong-password-00"))
    assert res["failed"] and "Nothing was changed" in res["msg"]
    staged.unlink()


def test_check_mode_pauses_and_promotes_nothing(lab, cluster):
    live, staged = stage(lab, STANDBY_PORT)
    res = lab.module("pg_switchover_promote", promote_args(lab, ["app1"]), check=True)
    assert not res.get("failed"), res
    assert res["changed"] is True and "would wait for app1" in res["msg"]
    res = lab.module("pgbouncer_switchover", bouncer_args(lab, cluster, live, staged), check=True)
    assert not res.get("failed"), res
    assert res["changed"] is True and staged.exists()
    assert lab.sql(STANDBY_PORT, "SELECT pg_is_in_recovery()") == [(True,)]
    assert served_by() == (PRIMARY_PORT, False)
    staged.unlink()


def test_promoter_refuses_when_a_bouncer_never_pauses_and_the_bouncer_resumes(lab, cluster):
    live, staged = stage(lab, STANDBY_PORT)
    before = live.read_text()
    # app1 must pause and signal within signal_timeout even when the machine is busy (2 s was not enough
    # beside the lab tests), and hold the pause past it, so that only ghost is missing.
    promote = promote_args(lab, ["app1", "ghost"], signal_timeout=8, pause_timeout=12, pause_wait=1, promote_wait=1)
    pause = bouncer_args(lab, cluster, live, staged, pause_timeout=12, pause_wait=1)
    promoted, paused = both(lab, promote, pause)
    assert promoted["failed"] and "missing: ghost)" in promoted["msg"] and "Nothing was changed" in promoted["msg"]
    assert paused["failed"] and "resumed on the old configuration" in paused["msg"]
    assert paused["switched"] is False and paused["pause_ms"] >= 12000
    assert lab.sql(STANDBY_PORT, "SELECT pg_is_in_recovery()") == [(True,)]
    assert live.read_text() == before and staged.exists()
    assert served_by() == (PRIMARY_PORT, False)
    staged.unlink()


def test_a_bouncer_whose_peer_never_comes_pauses_nothing(lab, cluster):
    live, staged = stage(lab, STANDBY_PORT)
    before = live.read_text()
    res = lab.module(
        "pgbouncer_switchover", bouncer_args(lab, cluster, live, staged, peers=["app1", "ghost"], barrier_timeout=1)
    )
    assert res["failed"] and "ghost did not reach the barrier within 1 s" in res["msg"]
    assert "nothing was paused" in res["msg"] and "pause_ms" not in res
    assert live.read_text() == before and served_by() == (PRIMARY_PORT, False)
    rows = lab.sql(PRIMARY_PORT, "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'webstack-%%'")
    assert rows == [(0,)]
    staged.unlink()


def test_switchover_under_writes_loses_nothing(lab, cluster):
    live, staged = stage(lab, STANDBY_PORT)
    writer = Writer()
    writer.start()
    time.sleep(1)
    pause = bouncer_args(lab, cluster, live, staged, peers=["app1"])
    promoted, paused = both(lab, promote_args(lab, ["app1"]), pause)
    time.sleep(1)
    writer.stop.set()
    writer.join(10)
    assert not promoted.get("failed"), promoted
    assert not paused.get("failed"), paused
    assert promoted["changed"] is True and promoted["timeline"] == 2
    assert set(promoted["timings"]) >= {"signals", "catchup", "promote", "total"}
    assert paused["switched"] is True and isinstance(paused["pause_ms"], int)
    assert "barrier" in paused["timings"]
    assert not staged.exists() and f"port={STANDBY_PORT}" in live.read_text()
    assert writer.errors == [] and writer.ok > 0
    assert served_by() == (STANDBY_PORT, False)
    assert lab.sql(STANDBY_PORT, "SELECT count(*) FROM probe") == [(writer.ok,)]
    # the signal connection is gone from the old primary
    rows = lab.sql(PRIMARY_PORT, "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'webstack-%%'")
    assert rows == [(0,)]
    # a second promotion is refused: the target is a primary now
    res = lab.module("pg_switchover_promote", promote_args(lab, ["app1"]))
    assert res["failed"] and "not a standby" in res["msg"]


def stop_args(lab, bouncers, **extra):
    return {
        **lab.login(PRIMARY_PORT),
        **SWITCH_LOGIN,
        "target_host": "127.0.0.1",
        "target_port": STANDBY_PORT,
        "bouncers": bouncers,
        "bin_dir": str(PG_BIN),
        **extra,
    }


def test_the_old_primary_stops_first_and_the_target_promotes_past_its_shutdown_checkpoint(lab, cluster):
    """Patroni's maintenance method: pg_switchover_stop beside the promoter (old_primary_stops) and the bouncer."""
    live, staged = stage(lab, STANDBY_PORT)
    writer = Writer()
    writer.start()
    time.sleep(1)
    with ThreadPoolExecutor(max_workers=3) as pool:
        promoting = pool.submit(
            lab.module, "pg_switchover_promote", promote_args(lab, ["app1"], old_primary_stops=True)
        )
        time.sleep(0.3)
        stopping = pool.submit(lab.module, "pg_switchover_stop", stop_args(lab, ["app1"]))
        time.sleep(0.3)
        pausing = pool.submit(
            lab.module, "pgbouncer_switchover", bouncer_args(lab, cluster, live, staged, peers=["app1"])
        )
        promoted, stopped, paused = promoting.result(), stopping.result(), pausing.result()
    time.sleep(1)
    writer.stop.set()
    writer.join(10)
    for result in (promoted, stopped, paused):
        assert not result.get("failed"), result
    assert stopped["changed"] is True and set(stopped["timings"]) >= {"signals", "stop", "told", "promotion"}
    assert promoted["old_primary_lsn"] == stopped["stopped_lsn"] and promoted["timeline"] == 2
    assert paused["switched"] is True and served_by() == (STANDBY_PORT, False)
    assert writer.errors == [] and lab.sql(STANDBY_PORT, "SELECT count(*) FROM probe") == [(writer.ok,)]
    assert not (lab.node_a / "postmaster.pid").exists()
    # The old primary follows the new one as it is, without pg_rewind: nothing it wrote is missing on the target.
    (lab.node_a / "standby.signal").touch()
    with open(lab.node_a / "postgresql.auto.conf", "a") as conf:
        conf.write(f"primary_conninfo = 'host=127.0.0.1 port={STANDBY_PORT} user=replicator password={REPL_PW}'\n")
    lab.give_to_postgres(lab.node_a / "standby.signal")
    start, _stop = lab.node_commands(lab.node_a, PRIMARY_PORT)
    run(start)
    lab.sql(STANDBY_PORT, "INSERT INTO probe (client) VALUES (2)")
    for _attempt in range(100):
        rows = lab.sql(PRIMARY_PORT, "SELECT count(*) FROM probe WHERE client = 2")
        if rows == [(1,)]:
            break
        time.sleep(0.1)
    assert rows == [(1,)], (lab.node_a.parent / "node_a.log").read_text()[-2000:]
    assert lab.sql(PRIMARY_PORT, "SELECT status FROM pg_stat_wal_receiver") == [("streaming",)]


def test_the_stop_refuses_and_stops_nothing_when_a_bouncer_never_pauses(lab, cluster):
    res = lab.module("pg_switchover_stop", stop_args(lab, ["app1"], signal_timeout=1))
    assert res["failed"] and "not every PgBouncer host signalled" in res["msg"] and res["changed"] is False
    assert "Nothing was changed" in res["msg"]
    assert lab.sql(PRIMARY_PORT, "SELECT pg_is_in_recovery()") == [(False,)]


# ------------------------------------------------------------------ TLS between the switchover and the servers


def _certificate(subject, key, issuer, issuer_key, ca=False, names=()):
    """A certificate for key, signed by issuer_key, valid for a day; names are its subjectAltName entries."""
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    if ca:
        signing_only = x509.KeyUsage(
            digital_signature=False,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=True,
            crl_sign=True,
            encipher_only=False,
            decipher_only=False,
        )
        builder = builder.add_extension(signing_only, critical=True)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(names)), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def throwaway_tls(folder):
    """Two CAs, and two server certificates of the first: one for 127.0.0.1 (where the servers listen), one for
    another name and address only. Returns their paths (the keys 0600, for the postgres OS user)."""
    folder.mkdir()
    paths = SimpleNamespace()

    def write(name, certificate, key=None):
        (folder / f"{name}.crt").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        setattr(paths, name, folder / f"{name}.crt")
        if key is not None:
            key_path = folder / f"{name}.key"
            key_path.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
            )
            key_path.chmod(0o600)
            setattr(paths, f"{name}_key", key_path)

    ca_key, other_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    write("ca", _certificate("webstack test CA", ca_key, "webstack test CA", ca_key, ca=True))
    write("other_ca", _certificate("another CA", other_key, "another CA", other_key, ca=True))
    for name, names in (
        ("server", [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
        ("elsewhere", [x509.DNSName("db9.example"), x509.IPAddress(ipaddress.ip_address("10.255.0.9"))]),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        write(name, _certificate(str(names[0].value), key, "webstack test CA", ca_key, names=names), key)
    return paths


def verify_full_error(lab, port, ca):
    """What a verify-full connection to port with the CA file ca says: None when it verifies."""
    try:
        lab.connect(port, sslmode="verify-full", sslrootcert=str(ca), connect_timeout=5).close()
    except psycopg2.OperationalError as exc:
        return str(exc).strip()
    return None


def serve_certificate(lab, tls, name):
    """Both servers (node_b has node_a's settings and files since its clone) present the certificate name."""
    tls.current.write_bytes(getattr(tls, name).read_bytes())
    tls.current_key.write_bytes(getattr(tls, f"{name}_key").read_bytes())
    for port in (PRIMARY_PORT, STANDBY_PORT):
        lab.sql(port, "SELECT pg_reload_conf()")
    # a reload is asynchronous: wait until new connections are shown the certificate
    for _attempt in range(100):
        errors = [verify_full_error(lab, port, tls.ca) for port in (PRIMARY_PORT, STANDBY_PORT)]
        if all((error is None) == (name == "server") for error in errors):
            return errors
        time.sleep(0.05)
    pytest.fail(f"after the reload, verify-full with the CA gives {errors} for certificate {name}")


@pytest.fixture
def tls_cluster(lab, bouncer):
    """The cluster of `cluster`, with TLS on both servers (certificate for 127.0.0.1 from the throwaway CA) and the
    switchover role refused without TLS (hostnossl ... reject); PgBouncer's admin console stays without TLS.
    Returns the admin console login and the certificates."""
    tls = throwaway_tls(lab.base / "tls")
    # the files the servers read: serve_certificate() changes what is in them
    tls.current, tls.current_key = lab.base / "tls" / "current.crt", lab.base / "tls" / "current.key"
    tls.current.write_bytes(tls.server.read_bytes())
    tls.current_key.write_bytes(tls.server_key.read_bytes())
    tls.current_key.chmod(0o600)
    lab.give_to_postgres(lab.base / "tls", tls.current, tls.current_key)
    hba = lab.node_a / "pg_hba.conf"
    hba.write_text("hostnossl all switchover 127.0.0.1/32 reject\n" + hba.read_text())
    lab.sql(PRIMARY_PORT, "ALTER SYSTEM SET ssl_cert_file = %s", (str(tls.current),))
    lab.sql(PRIMARY_PORT, "ALTER SYSTEM SET ssl_key_file = %s", (str(tls.current_key),))
    lab.sql(PRIMARY_PORT, "ALTER SYSTEM SET ssl = on")
    lab.sql(PRIMARY_PORT, "SELECT pg_reload_conf()")
    lab.sql(PRIMARY_PORT, "CREATE ROLE switchover LOGIN CONNECTION LIMIT 5 PASSWORD %s", (SWITCH_PW,))
    lab.sql(PRIMARY_PORT, "CREATE TABLE probe (id bigserial PRIMARY KEY, client int)")
    lab.clone_standby()
    return bouncer, tls


def test_switchover_with_verify_full_verifies_both_servers(lab, tls_cluster):
    admin, tls = tls_cluster
    assert verify_full_error(lab, PRIMARY_PORT, tls.ca) is None
    live, staged = stage(lab, STANDBY_PORT)
    verify = {"switchover_ssl_mode": "verify-full", "switchover_ca_cert": str(tls.ca)}
    # the admin console keeps the login's ssl_mode (prefer): PgBouncer here speaks no TLS
    pause = bouncer_args(lab, admin, live, staged, peers=["app1"], **verify)
    promoted, paused = both(lab, promote_args(lab, ["app1"], **verify), pause)
    assert not promoted.get("failed"), promoted
    assert not paused.get("failed"), paused
    # pg_hba refuses the switchover role without TLS: the signal and the poll went over verified TLS
    assert promoted["changed"] is True and promoted["signals"].keys() == {"app1"}
    assert paused["switched"] is True and served_by() == (STANDBY_PORT, False)


def test_switchover_refuses_servers_it_cannot_verify_before_pausing_or_promoting(lab, tls_cluster):
    admin, tls = tls_cluster
    live, staged = stage(lab, STANDBY_PORT)
    before = live.read_text()

    def both_refuse(verify, *fragments):
        promoted = lab.module("pg_switchover_promote", promote_args(lab, ["app1"], **verify))
        assert promoted["failed"] and "Nothing was changed" in promoted["msg"], promoted
        assert not promoted.get("changed") and not promoted.get("restore_command_set_aside")
        paused = lab.module("pgbouncer_switchover", bouncer_args(lab, admin, live, staged, **verify))
        # refused by validation ("Nothing was changed") or in the preflight ("Nothing was paused")
        assert paused["failed"] and "nothing was" in paused["msg"].lower() and "pause_ms" not in paused, paused
        for fragment in fragments:
            assert fragment in promoted["msg"] and fragment in paused["msg"], (fragment, promoted, paused)

    # no CA file where one is needed: refused before any connection, naming the option
    missing = lab.base / "tls" / "absent.crt"
    both_refuse({"switchover_ssl_mode": "verify-full"}, "switchover_ca_cert is not set")
    both_refuse(
        {"switchover_ssl_mode": "verify-ca", "switchover_ca_cert": str(missing)},
        f"switchover_ca_cert {missing} does not exist",
    )
    # a CA that did not sign the servers' certificates
    both_refuse(
        {"switchover_ssl_mode": "verify-full", "switchover_ca_cert": str(tls.other_ca)},
        "certificate verify failed",
        f"signed by the CA in switchover_ca_cert ({tls.other_ca})",
    )
    # the right CA, but a certificate for another name and address than the one connected to
    errors = serve_certificate(lab, tls, "elsewhere")
    assert all("does not match host name" in error for error in errors), errors
    both_refuse(
        {"switchover_ssl_mode": "verify-full", "switchover_ca_cert": str(tls.ca)},
        'does not match host name "127.0.0.1"',
        "name the address connected to (127.0.0.1)",
    )
    # what the switchover did before: sslmode=prefer is shown this certificate and goes on (check mode)
    res = lab.module("pg_switchover_promote", promote_args(lab, ["app1"]), check=True)
    assert not res.get("failed"), res
    # verify-ca checks the CA only: the same certificate passes (check mode, which pauses and promotes nothing)
    res = lab.module(
        "pg_switchover_promote",
        promote_args(lab, ["app1"], switchover_ssl_mode="verify-ca", switchover_ca_cert=str(tls.ca)),
        check=True,
    )
    assert not res.get("failed"), res
    # nothing moved: node_b is a standby, PgBouncer serves node_a on the old configuration, no signal is left
    assert lab.sql(STANDBY_PORT, "SELECT pg_is_in_recovery()") == [(True,)]
    assert live.read_text() == before and staged.exists()
    assert served_by() == (PRIMARY_PORT, False)
    rows = lab.sql(PRIMARY_PORT, "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'webstack-%%'")
    assert rows == [(0,)]
    staged.unlink()
