# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Throwaway PostgreSQL clusters (the controller's version) and a PgBouncer on loopback, for the modules'
integration tests.

A Lab is one temporary folder under /tmp (owned by the postgres OS user when run as root, because initdb
refuses root): node_a, a primary on 127.0.0.1:55432; node_b, a standby cloned by pg_standby on 55433;
a PgBouncer on 56432. Every module runs through ansible-playbook with this checkout as the collection.
The fixtures in conftest.py build a fresh Lab for each test that needs one.
"""

import json
import os
import pwd
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

try:
    import psycopg2
except ImportError:  # the lab fixture fails the tests and says what to install
    psycopg2 = None


def controller_pg_bin():
    """The controller's PostgreSQL server programs: the newest installed (lab/setup-host.sh installs its Debian
    release's: 15 on Debian 12, 17 on Debian 13); 15's path, to name in the message, when there is none."""
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    return installed[-1].parent if installed else Path("/usr/lib/postgresql/15/bin")


PG_BIN = controller_pg_bin()
PG_VERSION = int(PG_BIN.parts[-2])
PGBOUNCER = Path("/usr/sbin/pgbouncer")
REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"

PRIMARY_PORT, STANDBY_PORT, BOUNCER_PORT = 55432, 55433, 56432
SUPER_PW = "super-Secret-1"
REPL_PW = "repl-Secret-2"
ADMIN_PW = "admin-Secret-3"


def missing_requirements():
    """What these tests need and this machine lacks (empty when everything is there)."""
    missing = [str(path) for path in (PG_BIN / "initdb", PGBOUNCER) if not path.exists()]
    if psycopg2 is None:
        missing.append("the psycopg2 Python package")
    return missing


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

    def give_to_postgres(self, *paths):
        """initdb refuses root: as root, the files the servers read belong to the postgres OS user."""
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            for path in paths:
                os.chown(path, user.pw_uid, user.pw_gid)

    def prepare(self):
        os.chmod(self.base, 0o755)
        self.sock.mkdir()
        (self.colls / "ansible_collections" / "opsforge").mkdir(parents=True)
        (self.colls / "ansible_collections" / "opsforge" / "webstack").symlink_to(REPO)
        self.give_to_postgres(self.base, self.sock)

    def init_primary(self):
        """A fresh primary in node_a on PRIMARY_PORT: the replicator role, the slot node_b, the table orders."""
        pwfile = self.base / "pw"
        pwfile.write_text(SUPER_PW + "\n")
        self.give_to_postgres(pwfile)
        initdb = [PG_BIN / "initdb", "-D", self.node_a, "-U", "postgres", "-A", "scram-sha-256"]
        run(as_pg([*initdb, f"--pwfile={pwfile}", "--data-checksums"]))
        pwfile.unlink()
        with open(self.node_a / "postgresql.conf", "a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {PRIMARY_PORT}\nunix_socket_directories = '{self.sock}'\n"
                "wal_level = replica\nmax_wal_senders = 10\nmax_replication_slots = 10\nhot_standby = on\n"
                "wal_log_hints = on\nwal_keep_size = '256MB'\nfsync = off\nshared_buffers = '32MB'\n"
            )
        (self.node_a / "pg_hba.conf").write_text(
            "local all all scram-sha-256\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
            "host replication replicator 127.0.0.1/32 scram-sha-256\n"
        )
        start, _stop = self.node_commands(self.node_a, PRIMARY_PORT)
        run(start)
        self.sql(PRIMARY_PORT, "CREATE ROLE replicator LOGIN REPLICATION PASSWORD %s", (REPL_PW,))
        self.sql(PRIMARY_PORT, "SELECT pg_create_physical_replication_slot('node_b')")
        self.sql(PRIMARY_PORT, "CREATE TABLE orders (id int PRIMARY KEY, note text)")

    def clone_standby(self):
        """node_b on STANDBY_PORT, cloned by pg_standby from node_a and streaming through the slot node_b."""
        args = self.standby_args(self.node_b, STANDBY_PORT, PRIMARY_PORT, slot_name="node_b", application_name="node_b")
        res = self.module("pg_standby", args)
        assert not res.get("failed"), res

    def start_bouncer(self):
        """PgBouncer on BOUNCER_PORT with the database shop on node_a; returns the admin console login."""
        ini = self.base / "pgbouncer.ini"
        users = self.base / "userlist.txt"
        users.write_text(f'"pgb_admin" "{ADMIN_PW}"\n"postgres" "{SUPER_PW}"\n')
        ini.write_text(
            f"[databases]\nshop = host=127.0.0.1 port={PRIMARY_PORT} dbname=postgres\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {BOUNCER_PORT}\nunix_socket_dir =\n"
            f"auth_type = scram-sha-256\nauth_file = {users}\nadmin_users = pgb_admin\n"
            f"pool_mode = transaction\nlogfile = {self.base}/pgbouncer.log\npidfile = {self.base}/pgbouncer.pid\n"
        )
        self.give_to_postgres(ini, users)
        run(as_pg([PGBOUNCER, "-d", ini]))
        admin = {
            "login_host": "127.0.0.1",
            "login_port": BOUNCER_PORT,
            "login_user": "pgb_admin",
            "login_password": ADMIN_PW,
        }
        for _attempt in range(50):
            try:
                psycopg2.connect(
                    host="127.0.0.1", port=BOUNCER_PORT, user="pgb_admin", password=ADMIN_PW, dbname="pgbouncer"
                ).close()
                break
            except psycopg2.OperationalError:
                time.sleep(0.1)
        return admin

    def teardown(self):
        """Stop everything this lab started and remove its files."""
        stop_pgbouncer(self.base / "pgbouncer.pid")
        for node in (self.node_a, self.node_b):
            stop_cluster(node)
        shutil.rmtree(self.base, ignore_errors=True)

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


def served_by(port=BOUNCER_PORT):
    """(the port, in recovery) of the server PgBouncer hands a client of the database shop."""
    conn = psycopg2.connect(
        host="127.0.0.1", port=port, user="postgres", password=SUPER_PW, dbname="shop", connect_timeout=5
    )
    conn.autocommit = True
    try:
        cur = conn.cursor()
        cur.execute("SELECT inet_server_port(), pg_is_in_recovery()")
        return cur.fetchone()
    finally:
        conn.close()


class Writer(threading.Thread):
    """Inserts one row per transaction through PgBouncer and counts what succeeded and what failed."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.ok = 0
        self.errors = []

    def run(self):
        conn = psycopg2.connect(host="127.0.0.1", port=BOUNCER_PORT, user="postgres", password=SUPER_PW, dbname="shop")
        conn.autocommit = True
        cur = conn.cursor()
        while not self.stop.is_set():
            try:
                cur.execute("INSERT INTO probe (client) VALUES (1)")
                self.ok += 1
            except psycopg2.Error as exc:
                self.errors.append(str(exc).strip())
                conn = psycopg2.connect(
                    host="127.0.0.1", port=BOUNCER_PORT, user="postgres", password=SUPER_PW, dbname="shop"
                )
                conn.autocommit = True
                cur = conn.cursor()
            time.sleep(0.005)
        conn.close()


def side_by_side(lab, database_side, bouncer_side):
    """Run the database side's module, then half a second later the PgBouncer side's, both at once, as the playbooks
    launch their async jobs; each is (module name, args). Both results."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(lab.module, *database_side)
        time.sleep(0.5)
        second = pool.submit(lab.module, *bouncer_side)
        return first.result(), second.result()
