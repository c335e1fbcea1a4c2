# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Integration tests of the data-tier modules against real PostgreSQL 15 and PgBouncer on loopback.

Every module runs through ansible-playbook. The tests build throwaway clusters under /tmp (owned by the
postgres OS user when run as root, because initdb refuses root), a primary on 127.0.0.1:55432, a standby
cloned by pg_standby itself on 55433 and a PgBouncer on 56432, and remove all of it afterwards.

The tests in this file run in order and share that state: PgBouncer first, then clone, replication,
promotion and the old primary rejoining through pg_rewind.
"""

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PGBOUNCER = Path("/usr/sbin/pgbouncer")
REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"

PRIMARY_PORT, STANDBY_PORT, BOUNCER_PORT = 55432, 55433, 56432
SUPER_PW = "super-Secret-1"
REPL_PW = "repl-Secret-2"
ADMIN_PW = "admin-Secret-3"

pytestmark = pytest.mark.skipif(
    not (PG_BIN.joinpath("initdb").exists() and PGBOUNCER.exists()),
    reason="needs PostgreSQL 15 binaries in /usr/lib/postgresql/15/bin and /usr/sbin/pgbouncer "
    "(apt-get install postgresql-15 pgbouncer)",
)

psycopg2 = pytest.importorskip("psycopg2")


def as_pg(cmd):
    """Run PostgreSQL programs as the postgres OS user when the tests run as root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *[str(c) for c in cmd]]
    return [str(c) for c in cmd]


def run(cmd, **kwargs):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False, **kwargs)
    assert proc.returncode == 0, f"{cmd} failed ({proc.returncode}): {proc.stderr or proc.stdout}"
    return proc


class Lab:
    def __init__(self, base):
        self.base = base
        self.sock = base / "sock"
        self.colls = base / "colls"
        self.node_a = base / "node_a"
        self.node_b = base / "node_b"
        self.playbooks = 0

    def node_commands(self, data_dir, port):
        pg_ctl = PG_BIN / "pg_ctl"
        start = as_pg([pg_ctl, "-D", data_dir, "-l", f"{data_dir}.log", "-w", "-t", "60", "-o", f"-p {port}", "start"])
        stop = as_pg([pg_ctl, "-D", data_dir, "-m", "fast", "-w", "stop"])
        return start, stop

    def login(self, port):
        return {"login_host": "127.0.0.1", "login_port": port, "login_user": "postgres", "login_password": SUPER_PW}

    def connect(self, port, **kwargs):
        return psycopg2.connect(
            host="127.0.0.1", port=port, user="postgres", password=SUPER_PW, dbname="postgres", **kwargs
        )

    def sql(self, port, query, args=None):
        conn = self.connect(port)
        conn.autocommit = True
        try:
            cur = conn.cursor()
            cur.execute(query, args)
            return cur.fetchall() if cur.description else None
        finally:
            conn.close()

    def standby_args(self, data_dir, port, primary_port, **extra):
        start, stop = self.node_commands(data_dir, port)
        args = {
            "primary_host": "127.0.0.1",
            "primary_port": primary_port,
            "replication_user": "replicator",
            "replication_password": REPL_PW,
            "rewind_user": "postgres",
            "rewind_password": SUPER_PW,
            "data_directory": str(data_dir),
            "pg_bin_dir": str(PG_BIN),
            "start_command": start,
            "stop_command": stop,
            "wait_timeout": 60,
            **self.login(port),
        }
        args.update(extra)
        return args

    def module(self, name, args, check=False):
        """Run one module task through ansible-playbook; return the task result dict."""
        self.playbooks += 1
        playbook = self.base / f"play{self.playbooks}.yml"
        task = {"name": name, f"opsforge.webstack.{name}": args, "check_mode": check}
        playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [task]}]))
        config = self.base / "ansible.cfg"
        config.write_text("[defaults]\n")
        env = dict(
            {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")},
            ANSIBLE_CONFIG=str(config),
            ANSIBLE_COLLECTIONS_PATH=str(self.colls),
            ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
            ANSIBLE_LOCALHOST_WARNING="false",
            ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
            ANSIBLE_LOCAL_TEMP=str(self.base / "ansible-tmp"),
            ANSIBLE_NOCOLOR="1",
        )
        proc = subprocess.run(
            [str(ANSIBLE_PLAYBOOK), str(playbook)],
            capture_output=True,
            text=True,
            env=env,
            cwd=str(self.base),
            timeout=180,
            check=False,
        )
        try:
            output = json.loads(proc.stdout)
            return output["plays"][0]["tasks"][0]["hosts"]["localhost"]
        except (ValueError, KeyError, IndexError):
            pytest.fail(f"ansible-playbook gave no task result (rc={proc.returncode}): {proc.stdout}\n{proc.stderr}")


def stop_cluster(data_dir):
    if (data_dir / "postmaster.pid").exists():
        subprocess.run(
            as_pg([PG_BIN / "pg_ctl", "-D", data_dir, "-m", "immediate", "-w", "stop"]),
            capture_output=True,
            check=False,
            timeout=60,
        )


def stop_pgbouncer(pidfile):
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        return
    for _attempt in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


@pytest.fixture(scope="module")
def lab(request):
    base = Path(tempfile.mkdtemp(prefix="opsforge-data-it-", dir="/tmp"))
    lab = Lab(base)

    def cleanup():
        stop_pgbouncer(base / "pgbouncer.pid")
        for node in (lab.node_a, lab.node_b):
            stop_cluster(node)
        shutil.rmtree(base, ignore_errors=True)

    request.addfinalizer(cleanup)
    os.chmod(base, 0o755)
    lab.sock.mkdir()
    (lab.colls / "ansible_collections" / "opsforge").mkdir(parents=True)
    (lab.colls / "ansible_collections" / "opsforge" / "webstack").symlink_to(REPO)
    pwfile = base / "pw"
    pwfile.write_text(SUPER_PW + "\n")
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        for path in (base, lab.sock, pwfile):
            os.chown(path, user.pw_uid, user.pw_gid)

    run(
        as_pg(
            [
                PG_BIN / "initdb",
                "-D",
                lab.node_a,
                "-U",
                "postgres",
                "-A",
                "scram-sha-256",
                f"--pwfile={pwfile}",
                "--data-checksums",
            ]
        )
    )
    with open(lab.node_a / "postgresql.conf", "a") as conf:
        conf.write(
            f"listen_addresses = '127.0.0.1'\nport = {PRIMARY_PORT}\nunix_socket_directories = '{lab.sock}'\n"
            "wal_level = replica\nmax_wal_senders = 10\nmax_replication_slots = 10\nhot_standby = on\n"
            "wal_log_hints = on\nwal_keep_size = '256MB'\nfsync = off\nshared_buffers = '32MB'\n"
        )
    (lab.node_a / "pg_hba.conf").write_text(
        "local all all scram-sha-256\n"
        "host all all 127.0.0.1/32 scram-sha-256\n"
        "host replication replicator 127.0.0.1/32 scram-sha-256\n"
    )
    start, _stop = lab.node_commands(lab.node_a, PRIMARY_PORT)
    run(start)
    lab.sql(PRIMARY_PORT, "CREATE ROLE replicator LOGIN REPLICATION PASSWORD %s", (REPL_PW,))
    lab.sql(PRIMARY_PORT, "SELECT pg_create_physical_replication_slot('node_b')")
    lab.sql(PRIMARY_PORT, "CREATE TABLE orders (id int PRIMARY KEY, note text)")
    return lab


@pytest.fixture(scope="module")
def bouncer(lab):
    ini = lab.base / "pgbouncer.ini"
    users = lab.base / "userlist.txt"
    users.write_text(f'"pgb_admin" "{ADMIN_PW}"\n"postgres" "{SUPER_PW}"\n')
    ini.write_text(
        f"[databases]\nshop = host=127.0.0.1 port={PRIMARY_PORT} dbname=postgres\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {BOUNCER_PORT}\nunix_socket_dir =\n"
        f"auth_type = scram-sha-256\nauth_file = {users}\nadmin_users = pgb_admin\n"
        f"pool_mode = transaction\nlogfile = {lab.base}/pgbouncer.log\npidfile = {lab.base}/pgbouncer.pid\n"
    )
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        for path in (ini, users):
            os.chown(path, user.pw_uid, user.pw_gid)
    run(as_pg([PGBOUNCER, "-d", ini]))
    for _attempt in range(50):
        try:
            psycopg2.connect(
                host="127.0.0.1", port=BOUNCER_PORT, user="pgb_admin", password=ADMIN_PW, dbname="pgbouncer"
            ).close()
            break
        except psycopg2.OperationalError:
            time.sleep(0.1)
    return {
        "login_host": "127.0.0.1",
        "login_port": BOUNCER_PORT,
        "login_user": "pgb_admin",
        "login_password": ADMIN_PW,
    }


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


def test_info_on_primary(lab):
    res = lab.module("pg_replication_info", lab.login(PRIMARY_PORT))
    assert not res.get("failed"), res
    assert res["changed"] is False
    assert res["role"] == "primary" and res["timeline"] == 1 and res["server_version_num"] >= 150000
    assert res["current_lsn"] and res["receive_lsn"] is None and res["wal_receiver"] is None
    assert [s["name"] for s in res["slots"]] == ["node_b"] and res["slots"][0]["active"] is False
    assert res["pending_restart"] == []


def test_standby_check_mode_changes_nothing(lab):
    args = lab.standby_args(lab.node_b, STANDBY_PORT, PRIMARY_PORT, slot_name="node_b", application_name="node_b")
    res = lab.module("pg_standby", args, check=True)
    assert not res.get("failed"), res
    assert res["changed"] is True and res["decision"] == "clone"
    joined = "\n".join(res["commands"])
    assert "pg_basebackup" in joined and "-S node_b" in joined and "********" in joined
    assert REPL_PW not in json.dumps(res) and SUPER_PW not in json.dumps(res)
    assert not lab.node_b.exists()


def test_standby_clone_then_idempotent(lab):
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


def test_row_replicates_and_info_on_both_sides(lab):
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


def test_standby_reconfigures_when_settings_differ(lab):
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


def test_promote_refusals_and_check_mode(lab):
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


def test_promote_then_old_primary_rejoins_by_rewind(lab):
    res = lab.module("pg_promote", {"max_lag_bytes": 0, "catchup_timeout": 10, **lab.login(STANDBY_PORT)})
    assert not res.get("failed"), res
    assert res["changed"] is True and res["previous_timeline"] == 1 and res["timeline"] == 2
    assert res["elapsed_ms"] >= 0 and res["promote_lsn"] and res["current_lsn"]
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
