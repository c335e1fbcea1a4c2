"""Tests against the running lab (./dev lab); `./dev test` brings it up before them."""

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def lab_is_up():
    listing = subprocess.run(
        ["podman", "ps", "--filter", "label=opsforge.lab=webstack", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return "lab-lb1" in listing.stdout.split()


@pytest.fixture(scope="session", autouse=True)
def lab():
    if not lab_is_up():
        pytest.skip("the lab is not up: run ./dev lab first")


def playbook(*args, timeout=900):
    """Run ansible-playbook from the repository with its configuration; return (rc, output)."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "lab" / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0"}
    result = subprocess.run(
        ["ansible-playbook", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return result.returncode, result.stdout + result.stderr


def on_host(host, command):
    return subprocess.run(
        ["podman", "exec", f"lab-{host}", "sh", "-c", command], capture_output=True, text=True, check=True
    ).stdout.strip()


def release_of(host):
    """The release an app server runs, asked of the server itself."""
    body = on_host(host, "curl -s http://$(hostname -I | cut -d' ' -f1):8000/healthz")
    return json.loads(body)["release"]


def psql(host, query):
    """One query as the postgres user on a database host; its rows, unaligned."""
    return on_host(host, f"runuser -u postgres -- timeout 60 psql -XAtqc {shlex.quote(query)} 2>/dev/null || echo down")


def primary():
    """The database host that is not in recovery."""
    return next(host for host in ("db1", "db2") if psql(host, "SELECT pg_is_in_recovery()") == "f")


PAUSED_CHECK = """python3 -c '
import psycopg2
connection = psycopg2.connect(host="127.0.0.1", port=6432, dbname="pgbouncer", user="pgbouncer_admin",
                              password="lab-pgbouncer-admin-0001")
connection.autocommit = True
cursor = connection.cursor()
cursor.execute("SHOW DATABASES")
names = [column.name for column in cursor.description]
print(sum(row[names.index("paused")] for row in cursor.fetchall()))
'"""


def pools_paused(host="app1"):
    """Whether any database of the PgBouncer on the host is paused."""
    return on_host(host, PAUSED_CHECK) != "0"
