"""Fixtures: a throwaway PostgreSQL cluster (port 55532) and Redis (port 56379) on loopback.

Both are started by the test session and stopped by finalizers even when tests fail.
Tests are skipped, with the reason, only when the server binaries are missing.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_PORT = 55532
REDIS_PORT = 56379
HOST = "127.0.0.1"


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def _pg_bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.insert(0, str(Path(initdb).resolve().parent))
    for directory in candidates:
        if (Path(directory) / "initdb").exists() and (Path(directory) / "pg_ctl").exists():
            return Path(directory)
    return None


@dataclass(frozen=True)
class Postgres:
    """The throwaway cluster: superuser ``postgres``, trust authentication on loopback."""

    port: int
    bindir: Path
    run_as: list[str]

    def url(self, dbname: str) -> str:
        """A SQLAlchemy URL for database ``dbname``."""
        return f"postgresql://postgres@{HOST}:{self.port}/{dbname}"

    def create_database(self, dbname: str) -> str:
        """Create an empty database and return its URL."""
        import psycopg2

        conn = psycopg2.connect(host=HOST, port=self.port, user="postgres", dbname="postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{dbname}"')
                cur.execute(f'CREATE DATABASE "{dbname}"')
        finally:
            conn.close()
        return self.url(dbname)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """Start a private PostgreSQL cluster (never the Debian default one)."""
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found; apt-get install postgresql")
    run_as: list[str] = []
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root but there is no 'postgres' user to run initdb as")
        run_as = ["runuser", "-u", "postgres", "--"]
    if _port_in_use(PG_PORT):
        pytest.fail(f"port {PG_PORT} is already in use; a previous test run may have left a server behind")
    # Not under pytest's basetemp: that is private to root, and the server runs as postgres.
    datadir = Path(tempfile.mkdtemp(prefix="shop-test-pg-"))
    if run_as:
        shutil.chown(datadir, "postgres", "postgres")
    server = Postgres(PG_PORT, bindir, run_as)
    options = (
        f"-p {PG_PORT} -c listen_addresses={HOST} -k {datadir} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60"
    )
    pg_ctl = [*run_as, str(bindir / "pg_ctl"), "-D", str(datadir / "data")]
    initdb = [*run_as, str(bindir / "initdb"), "-D", str(datadir / "data"), "-U", "postgres", "--auth=trust"]
    try:
        subprocess.run(
            [*initdb, "-E", "UTF8", "--no-sync", "--no-instructions"],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [*pg_ctl, "-o", options, "-l", str(datadir / "server.log"), "-w", "-t", "30", "start"],
            check=True,
            capture_output=True,
        )
        yield server
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "-w", "stop"], capture_output=True, check=False)
        shutil.rmtree(datadir, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """Start a private redis-server; yield its base URL (without a db number)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not found; apt-get install redis-server")
    if _port_in_use(REDIS_PORT):
        pytest.fail(f"port {REDIS_PORT} is already in use; a previous test run may have left a server behind")
    import redis

    proc = subprocess.Popen(
        [binary, "--port", str(REDIS_PORT), "--bind", HOST, "--save", "", "--appendonly", "no", "--daemonize", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(host=HOST, port=REDIS_PORT, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()
        yield f"redis://{HOST}:{REDIS_PORT}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def shop_env(
    postgres: Postgres, redis_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """SHOP_* variables for a migrated database ``shop``, set in os.environ for the session."""
    from shop import config
    from shop.migrate import upgrade

    url = postgres.create_database("shop")
    upgrade(url)
    env = {
        "SHOP_DATABASE_URL": url,
        "SHOP_REDIS_URL": f"{redis_server}/0",
        "SHOP_CELERY_BROKER_URL": f"{redis_server}/1",
        "SHOP_CELERY_RESULT_BACKEND": f"{redis_server}/2",
        "SHOP_DRAIN_FILE": str(tmp_path_factory.mktemp("drain") / "drain"),
        "SHOP_CATALOG_TTL": "30",
        "SHOP_RELEASE": "test-release",
    }
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        mp.delenv("SHOP_DATABASE_RO_URL", raising=False)
        config.get_settings.cache_clear()
        yield env
        config.get_settings.cache_clear()


@pytest.fixture(scope="session")
def eager_celery(shop_env: dict[str, str]) -> Iterator[object]:
    """The Celery app running tasks in-process (tests only), with the task module's connections closed after."""
    from shop import tasks
    from shop.celery_app import app

    app.conf.update(task_always_eager=True, task_eager_propagates=True)
    try:
        yield app
    finally:
        app.conf.update(task_always_eager=False, task_eager_propagates=False)
        if tasks.resources.cache_info().currsize:
            tasks.resources().close()
        tasks.resources.cache_clear()
