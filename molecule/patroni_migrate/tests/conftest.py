"""The scenario's hosts, the writer through PgBouncer and playbooks/ha_mode.yml against the instances."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
import testinfra

# playbook() (ansible-playbook against the scenario's inventory) is molecule/patroni's, not a copy.
_spec = importlib.util.spec_from_file_location(
    "patroni_scenario", Path(__file__).resolve().parents[2] / "patroni" / "tests" / "conftest.py"
)
_patroni = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_patroni)
playbook = _patroni.playbook
wait_for = _patroni.wait_for


def playbook_stopped_when(condition: Callable[[], bool], name: str, *args: str, timeout: int = 900) -> str:
    """ansible-playbook playbooks/NAME, killed with its workers (SIGKILL: a controller that is gone) as soon as
    condition() holds: its output until then. Fails if the playbook ends first. (Modules already running on a host
    finish there, as they would.)"""
    with tempfile.TemporaryFile("w+") as output:
        run = subprocess.Popen(
            _patroni.playbook_command(name, *args),
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **_patroni.PLAYBOOK_ENV},
            start_new_session=True,
        )
        deadline, held = time.monotonic() + timeout, False
        try:
            while not held and run.poll() is None and time.monotonic() < deadline:
                held = condition()
                time.sleep(0 if held else 0.5)
        finally:
            ended = run.poll()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.pid, signal.SIGKILL)
            run.wait()
        output.seek(0)
        out = output.read()
    assert held and ended is None, f"{name} ended (rc {ended}) or timed out before it could be stopped:\n{out[-4000:]}"
    return out


MEMBERS = {"molecule-mig-db1": "molecule-mig-db1", "molecule-mig-db2": "molecule-mig-db2"}
BOUNCER = "molecule-mig-etcd"
SHOP_PASSWORD = "molecule-shop-secret-000"
RESTAPI_AUTH = "patroni:molecule-restapi-secret-0"


class Cluster:
    def __init__(self):
        self.hosts = {name: testinfra.get_host(f"podman://{container}") for name, container in MEMBERS.items()}
        self.bouncer = testinfra.get_host(f"podman://{BOUNCER}")

    def sql(self, member, query, db="shop"):
        return self.hosts[member].run(f'runuser -u postgres -- psql -XAtq -v ON_ERROR_STOP=1 -d {db} -c "{query}"')

    def primary(self) -> str | None:
        """The one member whose server is up and not in recovery."""
        found = [
            m for m in self.hosts if self.sql(m, "SELECT pg_is_in_recovery()", db="postgres").stdout.strip() == "f"
        ]
        return found[0] if len(found) == 1 else None

    def streaming(self, member) -> bool:
        return self.sql(member, "SELECT status FROM pg_stat_wal_receiver", db="postgres").stdout.strip() == "streaming"

    def units(self, member) -> dict[str, tuple[str, str]]:
        """Debian's and Patroni's units on the member: (is-active, is-enabled)."""
        host = self.hosts[member]
        result = {}
        for unit in ("postgresql@17-main", "patroni@17-main"):
            active = host.run(f"systemctl is-active {unit}").stdout.strip()
            enabled = host.run(f"systemctl is-enabled {unit}").stdout.strip()
            result[unit.split("@", maxsplit=1)[0]] = (active, enabled)
        return result

    def patroni_members(self, member) -> list[dict]:
        host = self.hosts[member]
        result = host.run("runuser -u postgres -- patronictl -c /etc/patroni/17-main.yml list -f json")
        return json.loads(result.stdout) if result.rc == 0 else []


class Writer:
    """writer.py on the PgBouncer host, writing into a table of its own until stopped."""

    def __init__(self, table: str):
        self.table = table
        source = Path(__file__).with_name("writer.py")
        subprocess.run(["podman", "cp", str(source), f"{BOUNCER}:/root/writer.py"], check=True)
        subprocess.run(["podman", "exec", BOUNCER, "rm", "-f", "/tmp/writer.stop"], check=True)
        self.process = subprocess.Popen(
            ["podman", "exec", "-i", BOUNCER, "python3", "/root/writer.py", table],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.process.stdin.write(SHOP_PASSWORD)
        self.process.stdin.close()

    def stop(self) -> SimpleNamespace:
        subprocess.run(["podman", "exec", BOUNCER, "touch", "/tmp/writer.stop"], check=True)
        out = self.process.stdout.read()
        self.process.wait(timeout=60)
        assert self.process.returncode == 0, self.process.stderr.read()
        return SimpleNamespace(**json.loads(out))


@pytest.fixture(scope="session")
def cluster():
    return Cluster()


@pytest.fixture
def writer(cluster):
    """writer(table): an empty table owned by shop on the primary and a Writer into it; stopped at the end."""
    started: list[Writer] = []

    def start(table: str) -> Writer:
        primary = cluster.primary()
        create = cluster.sql(
            primary,
            f"CREATE TABLE IF NOT EXISTS {table} (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now()); "
            f"ALTER TABLE {table} OWNER TO shop; TRUNCATE {table}",
        )
        assert create.rc == 0, create.stderr
        started.append(Writer(table))
        return started[-1]

    yield start
    for run in started:
        if run.process.poll() is None:
            subprocess.run(["podman", "exec", BOUNCER, "touch", "/tmp/writer.stop"], check=False)
            run.process.kill()
