# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_table_checksums against a real PostgreSQL 15 on loopback (pglab): one snapshot, a restore point, a comparison."""

import json
import subprocess

import psycopg2
from pglab import PG_BIN, PRIMARY_PORT, SUPER_PW, as_pg


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
