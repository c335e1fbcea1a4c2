# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Integration tests of the data-tier modules against real PostgreSQL 15 and PgBouncer on loopback.

Every module runs through ansible-playbook. Each test gets its own servers from the fixtures in
conftest.py (a primary node_a on 127.0.0.1:55432, a standby node_b cloned by pg_standby on 55433, a
PgBouncer on 56432), so the tests run in any order and alone.
"""

import json
import os
import signal
import socket
import sys
import time

from pglab import BOUNCER_PORT, PRIMARY_PORT, REPL_PW, STANDBY_PORT, SUPER_PW, psycopg2

# ---------------------------------------------------------------------------- argument checks


def test_bad_arguments_are_rejected_with_clear_messages(lab):
    res = lab.module("pgbouncer_admin", {"command": "show", "login_host": "127.0.0.1"})
    assert res["failed"] and "show" in res["msg"]
    res = lab.module("pgbouncer_admin", {"command": "reload", "database": "shop", "login_host": "127.0.0.1"})
    assert res["failed"] and "'database' is only allowed with command pause, resume or reconnect" in res["msg"]
    res = lab.module("pg_promote", {"primary_lsn": "not-an-lsn", "max_lag_bytes": 0, **lab.login(PRIMARY_PORT)})
    assert res["failed"] and "primary_lsn 'not-an-lsn' is not an LSN" in res["msg"]
    res = lab.module("pg_standby", {"primary_host": "127.0.0.1", "data_directory": "relative/dir"})
    assert res["failed"] and "absolute path" in res["msg"]
    res = lab.module("pg_standby", {"data_directory": "/tmp/x"})
    assert res["failed"] and "primary_host" in res["msg"]
    res = lab.module("pg_replication_info", {"login_host": "127.0.0.1", "login_port": 1, "login_password": "x"})
    assert res["failed"] and "Could not connect to PostgreSQL as postgres@127.0.0.1:1" in res["msg"]


# ---------------------------------------------------------------------------- pgbouncer


def test_pgbouncer_show_pools_is_parsed(lab, bouncer):
    res = lab.module("pgbouncer_admin", {"command": "show", "show": "pools", **bouncer})
    assert not res.get("failed"), res
    assert res["changed"] is False
    assert isinstance(res["rows"], list) and res["rows"]
    assert {"database", "user", "cl_active", "sv_active"} <= set(res["rows"][0])


def test_pgbouncer_pause_resume_idempotent_and_check_mode(lab, bouncer):
    res = lab.module("pgbouncer_admin", {"command": "pause", **bouncer}, check=True)
    assert res["changed"] is True and res["msg"].startswith("would run PAUSE")
    # check mode paused nothing: a query through PgBouncer still answers at once
    conn = psycopg2.connect(
        host="127.0.0.1", port=BOUNCER_PORT, user="postgres", password=SUPER_PW, dbname="shop", connect_timeout=5
    )
    conn.autocommit = True
    conn.cursor().execute("SELECT 1")

    res = lab.module("pgbouncer_admin", {"command": "pause", **bouncer})
    assert res["changed"] is True and res["paused"] is True and isinstance(res["elapsed_ms"], int)
    res = lab.module("pgbouncer_admin", {"command": "pause", **bouncer})
    assert res["changed"] is False and res["paused"] is True
    res = lab.module("pgbouncer_admin", {"command": "resume", **bouncer})
    assert res["changed"] is True and res["paused"] is False
    res = lab.module("pgbouncer_admin", {"command": "resume", **bouncer})
    assert res["changed"] is False
    conn.cursor().execute("SELECT 1")
    conn.close()


def test_pgbouncer_pause_one_database(lab, bouncer):
    res = lab.module("pgbouncer_admin", {"command": "pause", "database": "shop", **bouncer})
    assert res["changed"] is True
    rows = lab.module("pgbouncer_admin", {"command": "show", "show": "databases", **bouncer})["rows"]
    assert [r["paused"] for r in rows if r["name"] == "shop"] == [1]
    res = lab.module("pgbouncer_admin", {"command": "pause", "database": "shop", **bouncer})
    assert res["changed"] is False
    res = lab.module("pgbouncer_admin", {"command": "resume", "database": "shop", **bouncer})
    assert res["changed"] is True
    res = lab.module("pgbouncer_admin", {"command": "pause", "database": "nosuchdb", **bouncer})
    assert res["failed"] and "'nosuchdb' is not configured" in res["msg"]


def test_pgbouncer_pause_timeout_resumes(lab, bouncer):
    holder = psycopg2.connect(host="127.0.0.1", port=BOUNCER_PORT, user="postgres", password=SUPER_PW, dbname="shop")
    try:
        holder.cursor().execute("SELECT 1")  # opens a transaction that keeps a server connection busy
        res = lab.module("pgbouncer_admin", {"command": "pause", "timeout": 2, **bouncer})
        assert res["failed"]
        assert "did not finish within 2 seconds" in res["msg"] and "RESUME was issued" in res["msg"]
        # nothing is left paused: a new client gets through, and resume has nothing to do
        other = psycopg2.connect(
            host="127.0.0.1", port=BOUNCER_PORT, user="postgres", password=SUPER_PW, dbname="shop", connect_timeout=5
        )
        other.autocommit = True
        other.cursor().execute("SELECT 1")
        other.close()
        res = lab.module("pgbouncer_admin", {"command": "resume", **bouncer})
        assert res["changed"] is False
    finally:
        holder.close()


# ---------------------------------------------------------------------------- replication


def test_info_on_primary(lab, primary):
    res = lab.module("pg_replication_info", lab.login(PRIMARY_PORT))
    assert not res.get("failed"), res
    assert res["changed"] is False
    assert res["role"] == "primary" and res["timeline"] == 1 and res["server_version_num"] >= 150000
    assert res["current_lsn"] and res["receive_lsn"] is None and res["wal_receiver"] is None
    assert [s["name"] for s in res["slots"]] == ["node_b"] and res["slots"][0]["active"] is False
    assert res["pending_restart"] == []


def test_info_warns_about_an_inactive_slot_it_is_asked_about(lab, primary):
    res = lab.module("pg_replication_info", {**lab.login(PRIMARY_PORT), "warn_inactive_slots": ["node_b", "no_such"]})
    assert not res.get("failed"), res
    warnings = [str(warning) for warning in res.get("warnings", [])]
    assert len(warnings) == 1, res
    assert "replication slot node_b is inactive: no standby streams from it" in warnings[0]


def test_connection_options_of_community_postgresql(lab, primary):
    # the unix socket directory, the port under its alias, and TLS options that reach libpq
    socket_login = {"login_unix_socket": str(lab.sock), "port": PRIMARY_PORT, "login_password": SUPER_PW}
    res = lab.module("pg_replication_info", {**socket_login, "ssl_mode": "disable"})
    assert not res.get("failed"), res
    assert res["role"] == "primary"
    res = lab.module("pg_replication_info", {**lab.login(PRIMARY_PORT), "ssl_mode": "require"})
    assert res["failed"] and "server does not support SSL" in res["msg"]


def test_standby_check_mode_changes_nothing(lab, primary):
    args = lab.standby_args(lab.node_b, STANDBY_PORT, PRIMARY_PORT, slot_name="node_b", application_name="node_b")
    res = lab.module("pg_standby", args, check=True)
    assert not res.get("failed"), res
    assert res["changed"] is True and res["decision"] == "clone"
    joined = "\n".join(res["commands"])
    assert "pg_basebackup" in joined and "-S node_b" in joined and "********" in joined
    assert REPL_PW not in json.dumps(res) and SUPER_PW not in json.dumps(res)
    assert not lab.node_b.exists()


def test_standby_clone_then_idempotent(lab, primary):
    args = lab.standby_args(lab.node_b, STANDBY_PORT, PRIMARY_PORT, slot_name="node_b", application_name="node_b")
    res = lab.module("pg_standby", args)
    assert not res.get("failed"), res
    assert res["changed"] is True and res["decision"] == "clone"
    assert res["wal_receiver"]["status"] == "streaming" and res["wal_receiver"]["slot_name"] == "node_b"
    assert REPL_PW not in json.dumps(res)
    assert (lab.node_b / "standby.signal").exists()

    res = lab.module("pg_standby", args)
    assert not res.get("failed"), res
    assert res["changed"] is False and res["decision"] == "none"


def test_row_replicates_and_info_on_both_sides(lab, replication):
    lab.sql(PRIMARY_PORT, "INSERT INTO orders VALUES (1, 'written on node_a')")
    for _attempt in range(100):
        rows = lab.sql(STANDBY_PORT, "SELECT note FROM orders WHERE id = 1")
        if rows:
            break
        time.sleep(0.1)
    assert rows == [("written on node_a",)]

    standby = lab.module("pg_replication_info", lab.login(STANDBY_PORT))
    assert standby["role"] == "standby" and standby["timeline"] == 1
    assert standby["receive_lsn"] and standby["replay_lsn"] and standby["replay_lag_bytes"] >= 0
    assert standby["replay_lag_seconds"] is None or standby["replay_lag_seconds"] >= 0
    receiver = standby["wal_receiver"]
    assert receiver["status"] == "streaming" and receiver["sender_port"] == PRIMARY_PORT
    assert "password" not in receiver["conninfo"] and REPL_PW not in receiver["conninfo"]

    primary = lab.module("pg_replication_info", lab.login(PRIMARY_PORT))
    assert [r["application_name"] for r in primary["replicas"]] == ["node_b"]
    replica = primary["replicas"][0]
    assert replica["state"] == "streaming" and replica["sync_state"] == "async" and replica["lag_bytes"] >= 0
    assert primary["slots"][0]["active"] is True and primary["slots"][0]["retained_bytes"] >= 0


def test_standby_reconfigures_when_settings_differ(lab, replication):
    args = lab.standby_args(lab.node_b, STANDBY_PORT, PRIMARY_PORT, slot_name="node_b", application_name="node_b2")
    res = lab.module("pg_standby", args)
    assert not res.get("failed"), res
    assert res["changed"] is True and res["decision"] == "configure"
    assert "application_name" in res["reason"]
    for _attempt in range(100):
        names = lab.sql(PRIMARY_PORT, "SELECT application_name FROM pg_stat_replication")
        if names == [("node_b2",)]:
            break
        time.sleep(0.1)
    assert names == [("node_b2",)]


def test_promote_refusals_and_check_mode(lab, replication):
    res = lab.module("pg_promote", {"primary_lsn": "FF/0", "max_lag_bytes": 0, **lab.login(STANDBY_PORT)})
    assert res["failed"] and "Refusing to promote" in res["msg"] and "max_lag_bytes=0" in res["msg"]
    res = lab.module("pg_promote", lab.login(STANDBY_PORT), check=True)
    assert res["changed"] is True and "would promote" in res["msg"]
    assert lab.sql(STANDBY_PORT, "SELECT pg_is_in_recovery()") == [(True,)]
    res = lab.module("pg_promote", {"fail_if_primary": True, **lab.login(PRIMARY_PORT)})
    assert res["failed"] and "already a primary" in res["msg"]
    # pointed at itself, pg_standby must not stop the only primary even with stop_running_primary=true
    args = lab.standby_args(lab.node_a, PRIMARY_PORT, PRIMARY_PORT, stop_running_primary=True)
    res = lab.module("pg_standby", args)
    assert res["failed"] and "not newer than this running primary" in res["msg"]
    assert lab.sql(PRIMARY_PORT, "SELECT pg_is_in_recovery()") == [(False,)]


def test_a_promotion_asleep_after_the_request_is_woken(lab, replication):
    """PostgreSQL's race behind PromotionWatch (pg_promote and pg_switchover_promote wait through it), made to happen
    on purpose: the promote request reaches a standby whose WAL stream failed a moment ago while its next WAL receiver
    is asked for but not started yet. The standby takes the request, then sleeps out the rest of
    wal_retrieve_retry_interval before it ends recovery, and nothing wakes it: the request's wake-up is spent."""
    sys.path.insert(0, str(lab.colls))
    from ansible_collections.opsforge.webstack.plugins.module_utils.postgres import PromotionWatch

    conn = lab.connect(STANDBY_PORT)
    conn.autocommit = True
    cursor = conn.cursor()

    def startup_waits_for(event):
        query = "SELECT wait_event FROM pg_stat_activity WHERE backend_type = 'startup'"
        deadline = time.monotonic() + 20
        while True:
            cursor.execute(query)
            if cursor.fetchone()[0] == event:
                return
            assert time.monotonic() < deadline, f"the startup process never waited for {event}"
            time.sleep(0.02)

    with socket.socket() as probe:  # a port nothing listens on: the primary is gone
        probe.bind(("127.0.0.1", 0))
        gone = probe.getsockname()[1]
    cursor.execute("ALTER SYSTEM SET wal_retrieve_retry_interval = '60s'")
    cursor.execute(f"ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port={gone} user=replicator'")
    cursor.execute("SELECT pg_reload_conf()")
    startup_waits_for("RecoveryRetrieveRetryInterval")  # two attempts to stream failed: it sleeps between attempts
    cursor.execute("SELECT pid FROM pg_stat_activity WHERE backend_type = 'startup'")
    startup = cursor.fetchone()[0]
    postmaster = int((lab.node_b / "postmaster.pid").read_text().split()[0])

    # With the postmaster stopped, the next WAL receiver stays asked for and never starts.
    os.kill(postmaster, signal.SIGSTOP)
    try:
        os.kill(startup, signal.SIGHUP)  # ends the sleep: the next attempt asks for a WAL receiver
        startup_waits_for("RecoveryWalStream")
        cursor.execute("SELECT pg_promote(wait => false)")  # the promote file; the postmaster's signal is held
        os.kill(startup, signal.SIGUSR2)  # what the postmaster would pass on
        startup_waits_for("RecoveryRetrieveRetryInterval")  # took the request, and sleeps the 60 s out
    finally:
        os.kill(postmaster, signal.SIGCONT)

    watch = PromotionWatch(conn)
    started = time.monotonic()
    deadline = started + 20
    while not watch.left_recovery():
        assert time.monotonic() < deadline, "the promotion was not woken within 20 s"
        time.sleep(0.05)
    assert watch.woken == 1
    print(f"promotion woken after {time.monotonic() - started:.2f} s (it would have slept about 60 s)")
    conn.close()


def test_promote_then_old_primary_rejoins_by_rewind(lab, replication):
    lab.sql(PRIMARY_PORT, "INSERT INTO orders VALUES (1, 'written on node_a')")
    res = lab.module("pg_promote", {"max_lag_bytes": 0, "catchup_timeout": 10, **lab.login(STANDBY_PORT)})
    assert not res.get("failed"), res
    assert res["changed"] is True and res["previous_timeline"] == 1 and res["timeline"] == 2
    assert res["elapsed_ms"] >= 0 and res["promote_lsn"] and res["current_lsn"] and res["promotion_woken"] >= 0
    lab.sql(STANDBY_PORT, "INSERT INTO orders VALUES (2, 'written on node_b')")

    res = lab.module("pg_promote", lab.login(STANDBY_PORT))
    assert res["changed"] is False and res["already_primary"] is True and res["timeline"] == 2

    # node_a is still up and takes a write of its own: its history now diverges from node_b's
    lab.sql(PRIMARY_PORT, "INSERT INTO orders VALUES (3, 'lost on node_a')")
    args = lab.standby_args(lab.node_a, PRIMARY_PORT, STANDBY_PORT, application_name="node_a")
    res = lab.module("pg_standby", args)
    assert res["failed"] and "running primary" in res["msg"] and "stop_running_primary=true" in res["msg"]
    assert lab.sql(PRIMARY_PORT, "SELECT pg_is_in_recovery()") == [(False,)]

    res = lab.module("pg_standby", {**args, "stop_running_primary": True}, check=True)
    assert res["changed"] is True and res["decision"] == "rewind"
    assert any("pg_rewind" in line for line in res["commands"])
    assert lab.sql(PRIMARY_PORT, "SELECT pg_is_in_recovery()") == [(False,)]

    res = lab.module("pg_standby", {**args, "stop_running_primary": True})
    assert not res.get("failed"), res
    assert res["decision"] == "rewind" and res["changed"] is True
    assert res["wal_receiver"]["status"] == "streaming" and res["wal_receiver"]["sender_port"] == STANDBY_PORT

    lab.sql(STANDBY_PORT, "INSERT INTO orders VALUES (4, 'after rejoin')")
    for _attempt in range(100):
        rows = lab.sql(PRIMARY_PORT, "SELECT id FROM orders ORDER BY id")
        if rows == [(1,), (2,), (4,)]:
            break
        time.sleep(0.1)
    assert rows == [(1,), (2,), (4,)]
    info = lab.module("pg_replication_info", lab.login(PRIMARY_PORT))
    assert info["role"] == "standby" and info["timeline"] == 2

    res = lab.module("pg_standby", {**args, "stop_running_primary": True})
    assert res["changed"] is False and res["decision"] == "none"
