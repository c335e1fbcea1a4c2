"""switchover.yml refuses a plan it cannot carry out safely, before PgBouncer is paused or anything changes; and
a switchover there and back under writes fails none of them and loses no row.

How long the pause is, under pgbench, is measured and printed by tests/benchmarks/switchover.py, not asserted here.
"""

import shlex
import subprocess

import pytest
import yaml
from conftest import REPO, on_host, playbook, pools_paused, primary

SHOP_PASSWORD = yaml.safe_load((REPO / "inventories" / "lab" / "group_vars" / "all.yml").read_text())[
    "webstack_lab_shop_db_password"
]

# Writers on app1, through its PgBouncer, until a stop file appears; then the committed and failed counts.
WRITER = """
import os, sys, threading, psycopg2

STOP = "/run/webstack-switchover-writes.stop"
counts = []

def write(client):
    done = counts[client]
    connection = None
    while not os.path.exists(STOP):
        try:
            if connection is None:
                connection = psycopg2.connect(host="127.0.0.1", port=6432, dbname="shop", user="shop",
                                              password=os.environ["PGPASSWORD"], connect_timeout=30)
                connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute("INSERT INTO switchover_writes (client) VALUES (%s)", (client,))
            done["committed"] += 1
        except psycopg2.Error as error:
            done["failed"] += 1
            print(f"client {client}: {error}".strip(), file=sys.stderr)
            connection = None

for client in range(4):
    counts.append({"committed": 0, "failed": 0})
threads = [threading.Thread(target=write, args=(client,)) for client in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(sum(c["committed"] for c in counts), sum(c["failed"] for c in counts))
"""


def refused(*extra):
    before = primary()
    rc, out = playbook("playbooks/switchover.yml", *extra, timeout=300)
    assert rc != 0
    assert primary() == before
    assert not pools_paused()
    return out


def test_the_current_primary_as_target_is_refused():
    out = refused("-e", f"switchover_target={primary()}")
    assert "is already the primary" in out


def test_a_target_outside_the_cluster_is_refused():
    out = refused("-e", "switchover_target=app1")
    assert "is not a member of group 'postgres'" in out


@pytest.fixture
def standby_down():
    standby = "db2" if primary() == "db1" else "db1"
    on_host(standby, "pg_ctlcluster 15 main stop -m fast")
    yield standby
    on_host(standby, "pg_ctlcluster 15 main start")


def test_no_healthy_standby_stops_before_pause(standby_down):
    out = refused()
    assert "there is no healthy standby" in out


@pytest.fixture
def long_transaction():
    host = primary()
    on_host(host, "runuser -u postgres -- sh -c \"psql -Xqc 'BEGIN; SELECT pg_sleep(120); COMMIT' >/dev/null 2>&1 &\"")
    yield host
    on_host(
        host,
        'runuser -u postgres -- psql -XAtqc "SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
        "WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()\"",
    )


def test_a_long_transaction_on_the_primary_stops_before_pause(long_transaction):
    out = " ".join(refused("-e", "switchover_max_xact_seconds=1").split())
    assert "more than switchover_max_xact_seconds=1" in out
    assert "application 'psql'" in out


@pytest.fixture
def one_bouncer_down():
    on_host("app2", "systemctl stop pgbouncer")
    yield "app2"
    on_host("app2", "systemctl start pgbouncer")


def test_a_pgbouncer_that_is_down_stops_the_switchover_before_any_pause(one_bouncer_down):
    out = " ".join(refused().split())
    assert "Could not connect to the PgBouncer admin console" in out
    assert "Launch PAUSE" not in out  # refused in the preflight, nothing launched


def shop_sql(host, query):
    return on_host(host, f"runuser -u postgres -- psql -XAtq -v ON_ERROR_STOP=1 -d shop -c {shlex.quote(query)}")


@pytest.fixture
def writes_table():
    create = "CREATE TABLE switchover_writes (id bigserial PRIMARY KEY, client int NOT NULL); "
    shop_sql(primary(), f"{create} ALTER TABLE switchover_writes OWNER TO shop")
    yield "switchover_writes"
    on_host("app1", "rm -f /run/webstack-switchover-writes.stop")
    shop_sql(primary(), "DROP TABLE IF EXISTS switchover_writes")


def test_a_switchover_there_and_back_under_writes_fails_none_and_loses_no_row(writes_table):
    """As the postgresql scenario's side effect does on its instances, here on the lab: 4 writers through app1's
    PgBouncer while the primary moves to the standby and back."""
    first = primary()
    writers = subprocess.Popen(
        ["podman", "exec", "-i", "-e", f"PGPASSWORD={SHOP_PASSWORD}", "lab-app1", "python3", "-c", WRITER],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for expected in ("db2" if first == "db1" else "db1", first):
            rc, out = playbook("playbooks/switchover.yml", timeout=300)
            assert rc == 0, out[-3000:]
            assert primary() == expected
    finally:
        on_host("app1", "touch /run/webstack-switchover-writes.stop")
        out, err = writers.communicate(timeout=120)
    committed, failed = map(int, out.split())
    assert failed == 0, err[-3000:]
    assert committed > 100, "the writers barely wrote"
    assert int(shop_sql(first, f"SELECT count(*) FROM {writes_table}")) == committed
