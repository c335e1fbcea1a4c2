# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Integration tests of the switchover modules against real PostgreSQL 15 and PgBouncer on loopback.

Each test gets its own servers (the fixtures in conftest.py): node_a is the primary, pg_standby clones
node_b, PgBouncer serves node_a, and the two halves of the critical section (pg_switchover_promote and
pgbouncer_switchover) run at the same time, as the playbook's async jobs do, while a client writes through
PgBouncer.
"""

import os
import pwd
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from pglab import BOUNCER_PORT, PRIMARY_PORT, STANDBY_PORT, SUPER_PW, psycopg2

SWITCH_PW = "switch-Secret-4"


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
        "old_primary_host": "127.0.0.1",
        "old_primary_port": PRIMARY_PORT,
        "switchover_user": "switchover",
        "switchover_password": SWITCH_PW,
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
        "switchover_user": "switchover",
        "switchover_password": SWITCH_PW,
        "signal_name": "app1",
        "staged_config": str(staged),
        "config": str(live),
        **extra,
    }


def both(lab, promote, pause):
    """Start the promoting side, then the PgBouncer side, as the playbook does; return both results."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        promoting = pool.submit(lab.module, "pg_switchover_promote", promote)
        time.sleep(0.5)
        pausing = pool.submit(lab.module, "pgbouncer_switchover", pause)
        return promoting.result(), pausing.result()


def served_by(port=BOUNCER_PORT):
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
