# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_table_checksums against a real PostgreSQL 15 on loopback (pglab): one snapshot, a restore point, a comparison;
and the hold of PgBouncer around that snapshot (pgbouncer_hold beside pg_table_checksums, as dr_drill.yml runs them)
while a client writes through PgBouncer."""

import json
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest
from pglab import PG_BIN, PRIMARY_PORT, SUPER_PW, Writer, as_pg, served_by, side_by_side

HOLD_PW = "hold-Secret-42"


def restore_points_in_wal(lab, segment):
    """The RESTORE_POINT records of a WAL segment, as pg_waldump prints them."""
    dump = subprocess.run(
        as_pg([PG_BIN / "pg_waldump", "--rmgr=XLOG", "-p", lab.node_a / "pg_wal", segment]),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return [line for line in dump.stdout.splitlines() if "RESTORE_POINT" in line]


def connect_to_other(lab):
    return psycopg2.connect(host="127.0.0.1", port=PRIMARY_PORT, user="postgres", password=SUPER_PW, dbname="other")


def fill(lab):
    lab.sql(PRIMARY_PORT, "INSERT INTO orders SELECT n, 'note ' || n FROM generate_series(1, 200) AS n")
    lab.sql(PRIMARY_PORT, "CREATE DATABASE other")
    conn = connect_to_other(lab)
    conn.autocommit = True
    cursor = conn.cursor()
    cursor.execute('CREATE TABLE "Odd ""name""" (at timestamptz, amount numeric, data bytea)')
    cursor.execute('INSERT INTO "Odd ""name""" VALUES (now(), 1.5, \'\\x00ff\'), (now(), NULL, NULL)')
    cursor.execute("CREATE UNLOGGED TABLE scratch (id int)")
    conn.close()


def test_one_snapshot_of_every_database_with_a_restore_point_and_a_ready_file(primary):
    fill(primary)
    ready = primary.base / "ready.json"
    result = primary.module(
        "pg_table_checksums",
        {**primary.login(PRIMARY_PORT), "restore_point": "drill-it-1", "ready_file": str(ready), "switch_wal": True},
    )
    assert not result.get("failed"), result
    assert result["changed"]
    assert set(result["tables"]) == {"postgres", "other"}
    assert result["tables"]["postgres"]["public.orders"]["rows"] == 200
    assert result["tables"]["other"]['public.Odd "name"']["rows"] == 2
    assert result["unlogged_tables"] == {"postgres": [], "other": ["public.scratch"]}
    assert result["table_count"] == 2 and result["row_count"] == 202
    assert result["snapshot"]["transactions_in_window"] == 0
    assert result["restore_point"]["name"] == "drill-it-1" and "/" in result["restore_point"]["lsn"]
    assert json.loads(ready.read_text())["restore_point"]["lsn"] == result["restore_point"]["lsn"]
    assert not result["server"]["in_recovery"] and result["server"]["databases_size_bytes"] > 0
    # The restore point is in the WAL segment named, and the server has moved on to the next segment.
    assert any("drill-it-1" in line for line in restore_points_in_wal(primary, result["restore_point"]["wal_file"]))
    # (+ 1: right after a switch the position is the first byte of the next segment, named after the one before)
    current = primary.sql(PRIMARY_PORT, "SELECT pg_walfile_name(pg_current_wal_lsn() + 1)")[0][0]
    assert current > result["restore_point"]["wal_file"]


def test_the_checksum_ignores_row_order_and_sees_every_change(primary):
    fill(primary)
    login = {**primary.login(PRIMARY_PORT), "databases": ["postgres"]}
    source = primary.module("pg_table_checksums", login)
    # Rewriting every other row moves it to the end of the table but keeps the content.
    primary.sql(PRIMARY_PORT, "UPDATE orders SET note = note WHERE id % 2 = 0")
    assert primary.sql(PRIMARY_PORT, "SELECT id FROM orders LIMIT 2") == [(1,), (3,)]
    same = primary.module("pg_table_checksums", {**login, "compare_to": source["tables"]})
    assert same["comparison"] == {"equal": True, "compared": 1, "differences": []}
    assert not same["changed"] and same["restore_point"] is None

    primary.sql(PRIMARY_PORT, "UPDATE orders SET note = 'changed' WHERE id = 7")
    changed = primary.module("pg_table_checksums", {**login, "compare_to": source["tables"]})
    assert changed["comparison"]["differences"] == [
        {
            "database": "postgres",
            "table": "public.orders",
            "problem": "content differs",
            "source_rows": 200,
            "copy_rows": 200,
        }
    ]
    primary.sql(PRIMARY_PORT, "DELETE FROM orders WHERE id = 8")
    fewer = primary.module("pg_table_checksums", {**login, "compare_to": source["tables"]})
    assert fewer["comparison"]["differences"][0]["problem"] == "row counts differ"


def test_check_mode_reads_but_creates_no_restore_point_and_no_file(primary):
    ready = primary.base / "ready.json"
    args = {**primary.login(PRIMARY_PORT), "restore_point": "drill-it-check", "ready_file": str(ready)}
    result = primary.module("pg_table_checksums", args, check=True)
    assert not result.get("failed"), result
    assert not result["changed"] and result["restore_point"] is None
    assert result["tables"]["postgres"]["public.orders"]["rows"] == 0
    assert not ready.exists()


def test_a_wrong_password_fails_with_the_target_named(primary):
    result = primary.module("pg_table_checksums", {**primary.login(PRIMARY_PORT), "login_password": "wrong"})
    assert result.get("failed")
    assert f"postgres@127.0.0.1:{PRIMARY_PORT}" in result["msg"]


def test_the_writer_records_acknowledged_commits_and_verify_finds_the_lost_ones(primary):
    args = {**primary.login(PRIMARY_PORT), "run_id": "it-1", "duration": 1.5, "interval": 0.01}
    run = primary.module("pg_commit_writer", args)
    assert not run.get("failed"), run
    acknowledged = run["acknowledged"]
    assert len(acknowledged) > 20 and run["errors"] == [] and run["outage"]["seconds"] < 1
    assert sum(second["ok"] for second in run["per_second"]) == len(acknowledged)

    verify = {**primary.login(PRIMARY_PORT), "state": "verify", "run_id": "it-1", "acknowledged": acknowledged}
    assert primary.module("pg_commit_writer", verify)["lost"] == 0
    primary.sql(PRIMARY_PORT, "DELETE FROM webstack_drill_commits WHERE id IN (3, 4)")
    lost = primary.module("pg_commit_writer", verify)
    assert lost["lost"] == 2 and lost["lost_ids"] == [3, 4] and not lost["changed"]
    # another run's row keeps the table; the last run's cleanup drops it
    primary.sql(PRIMARY_PORT, "INSERT INTO webstack_drill_commits (run_id, id) VALUES ('it-other', 1)")
    cleaned = primary.module("pg_commit_writer", {**verify, "cleanup": True})
    assert cleaned["changed"] and cleaned["lost"] == 2
    assert primary.sql(PRIMARY_PORT, "SELECT run_id, count(*) FROM webstack_drill_commits GROUP BY 1") == [
        ("it-other", 1)
    ]
    other = {**verify, "run_id": "it-other", "acknowledged": [], "cleanup": True}
    assert primary.module("pg_commit_writer", other)["changed"]
    assert primary.sql(PRIMARY_PORT, "SELECT to_regclass('webstack_drill_commits')") == [(None,)]


@pytest.fixture
def held(bouncer, primary):
    """PgBouncer in front of node_a, the table the Writer fills, and the login a PgBouncer host signals with."""
    primary.sql(PRIMARY_PORT, "CREATE ROLE switchover LOGIN CONNECTION LIMIT 5 PASSWORD %s", (HOLD_PW,))
    primary.sql(PRIMARY_PORT, "CREATE TABLE probe (id bigserial PRIMARY KEY, client int)")
    return bouncer


def hold_args(admin, **extra):
    login = {"switchover_user": "switchover", "switchover_password": HOLD_PW}
    return {**admin, **login, "primary_host": "127.0.0.1", "primary_port": PRIMARY_PORT, "signal_name": "app1", **extra}


def snapshot_and_hold(lab, snapshot, hold):
    """The snapshot's side first, then the PgBouncer side, as dr_drill.yml launches them; both results."""
    return side_by_side(lab, ("pg_table_checksums", snapshot), ("pgbouncer_hold", hold))


def hold_connections(lab):
    query = "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'webstack-hold-%%'"
    return lab.sql(PRIMARY_PORT, query)[0][0]


def test_a_snapshot_under_writes_holds_pgbouncer_only_while_it_is_fixed(primary, held):
    writer = Writer()
    writer.start()
    time.sleep(1)
    snapshot = {**primary.login(PRIMARY_PORT), "restore_point": "drill-it-hold", "hold_bouncers": ["app1"]}
    fixed, hold = snapshot_and_hold(primary, snapshot, hold_args(held, peers=["app1"]))
    time.sleep(0.5)
    writer.stop.set()
    writer.join(10)
    assert not fixed.get("failed"), fixed
    assert not hold.get("failed"), (hold.get("msg"), hold.get("module_stderr"), hold.get("timings"))
    assert hold["released"] is True and hold["changed"] is True
    assert set(hold["timings"]) == {"barrier", "pause", "hold", "resume"}
    # Writers waited from PAUSE to RESUME, not for the checksums: a fraction of a second even on a busy machine.
    assert hold["pause_ms"] < 1000, hold
    assert fixed["hold"]["released"] == 1 and set(fixed["hold"]["signals"]) == {"app1"}
    assert fixed["hold"]["held_ms"] < 1000
    # The restore point holds exactly what the snapshot read: no write crossed it.
    assert fixed["snapshot"]["transactions_in_window"] == 0
    assert fixed["tables"]["postgres"]["public.probe"]["rows"] <= writer.ok
    assert writer.errors == [] and writer.ok > 0
    assert served_by() == (PRIMARY_PORT, False) and hold_connections(primary) == 0


def test_a_hold_that_is_never_released_resumes_by_itself(primary, held):
    started = time.monotonic()
    hold = primary.module("pgbouncer_hold", hold_args(held, hold_timeout=3, pause_wait=1))
    assert hold["failed"] and "did not release the hold within 3 s; resumed" in hold["msg"], hold
    assert hold["released"] is False and 3000 <= hold["pause_ms"] < (time.monotonic() - started) * 1000
    assert served_by() == (PRIMARY_PORT, False) and hold_connections(primary) == 0


def test_a_primary_that_stops_answering_cannot_hold_pgbouncer_past_the_bound(primary, held):
    """The primary's backend of the hold is stopped (SIGSTOP: no answer, no error, the connection stays up), as a
    frozen host would be: the module's watchdog resumes PgBouncer one second past hold_timeout and ends the wait."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        holding = pool.submit(primary.module, "pgbouncer_hold", hold_args(held, hold_timeout=3, pause_wait=1))
        query = "SELECT pid FROM pg_stat_activity WHERE application_name = 'webstack-hold-paused:app1'"
        for _attempt in range(300):
            rows = primary.sql(PRIMARY_PORT, query)
            if rows:
                break
            time.sleep(0.05)
        (pid,) = rows[0]
        os.kill(pid, signal.SIGSTOP)
        try:
            hold = holding.result(timeout=60)
        finally:
            os.kill(pid, signal.SIGCONT)
    assert hold["failed"] and "did not answer within 3 s (hold_timeout); resumed." in hold["msg"], hold
    assert hold["released"] is False and 4000 <= hold["pause_ms"] < 9000, hold
    assert served_by() == (PRIMARY_PORT, False)


def test_no_snapshot_when_a_pgbouncer_never_pauses_and_the_others_are_released_at_once(primary, held):
    snapshot = {
        **primary.login(PRIMARY_PORT),
        "restore_point": "drill-it-ghost",
        "hold_bouncers": ["app1", "ghost"],
        "hold_signal_timeout": 4,
    }
    refused, hold = snapshot_and_hold(primary, snapshot, hold_args(held, hold_timeout=30))
    assert refused["failed"] and "PgBouncer on ghost did not signal a pause within 4 s" in refused["msg"], refused
    assert "no restore point was created" in refused["msg"] and refused["restore_point"] is None
    # app1 was let go when the snapshot gave up, long before its own hold_timeout.
    assert hold["released"] is True and hold["pause_ms"] < 10000, hold
    assert served_by() == (PRIMARY_PORT, False) and hold_connections(primary) == 0


def test_check_mode_holds_nothing_and_bad_bounds_are_refused(primary, held):
    checked = primary.module("pgbouncer_hold", hold_args(held), check=True)
    assert not checked.get("failed") and "would pause" in checked["msg"] and "pause_ms" not in checked
    refused = primary.module("pgbouncer_hold", hold_args(held, peers=["app2"]))
    assert refused["failed"] and "peers must include this host's signal_name 'app1'" in refused["msg"]
    refused = primary.module("pgbouncer_hold", hold_args(held, switchover_password="wrong-password-00"))
    assert refused["failed"] and "Cannot reach the primary 127.0.0.1" in refused["msg"]
    assert "Nothing was paused." in refused["msg"]
    snapshot = {**primary.login(PRIMARY_PORT), "hold_bouncers": ["app1"], "hold_timeout": 2}
    refused = primary.module("pg_table_checksums", snapshot)
    assert refused["failed"] and "hold_timeout (2 s) leaves no time for the snapshot" in refused["msg"]
    assert served_by() == (PRIMARY_PORT, False) and hold_connections(primary) == 0
