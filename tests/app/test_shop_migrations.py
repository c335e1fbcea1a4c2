"""Alembic migrations against the throwaway PostgreSQL cluster."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import create_engine, pool, text

from shop.migrate import upgrade

TABLES = {"products", "orders", "order_lines", "confirmations", "email_outbox", "task_runs", "alembic_version"}


def _state(url: str) -> tuple[set[str], str, int]:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            tables = set(conn.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")))
            version = conn.scalar(text("SELECT version_num FROM alembic_version"))
            products = conn.scalar(text("SELECT count(*) FROM products"))
    finally:
        engine.dispose()
    return tables, version, products


def test_upgrade_twice_is_a_no_op(postgres) -> None:
    url = postgres.create_database("shop_migrate_twice")
    assert upgrade(url) == "0001"
    first = _state(url)
    assert first == (TABLES, "0001", 5)
    assert upgrade(url) == "0001"
    assert _state(url) == first


def test_concurrent_runs_are_serialised(postgres) -> None:
    url = postgres.create_database("shop_migrate_concurrent")
    env = {**os.environ, "SHOP_DATABASE_URL": url}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "shop.migrate"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _attempt in range(3)
    ]
    outputs = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], outputs
    assert all("schema at revision 0001" in out for out, _err in outputs)
    # Exactly one run applied the revision (and seeded the products once).
    assert sum("Running upgrade" in err for _out, err in outputs) == 1
    assert _state(url) == (TABLES, "0001", 5)


def test_confirmation_is_unique_per_order(postgres) -> None:
    url = postgres.create_database("shop_migrate_constraints")
    upgrade(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            uniques = set(
                conn.scalars(
                    text(
                        "SELECT conname FROM pg_constraint WHERE contype IN ('u', 'p')"
                        " AND conrelid IN ('confirmations'::regclass, 'task_runs'::regclass, 'email_outbox'::regclass)"
                    )
                )
            )
    finally:
        engine.dispose()
    assert {"confirmations_order_id_key", "task_runs_pkey", "email_outbox_order_id_kind_key"} <= uniques


def test_exit_code_says_whether_revisions_were_applied(postgres) -> None:
    """--changed-exit-code N: N from the run that applied revisions, 0 from a run with nothing to apply."""
    url = postgres.create_database("shop_migrate_exit_code")
    env = {**os.environ, "SHOP_DATABASE_URL": url}
    command = [sys.executable, "-m", "shop.migrate", "--changed-exit-code", "3"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert first.returncode == 3, first
    assert "applied 0001" in first.stdout
    second = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert second.returncode == 0, second
    assert "applied" not in second.stdout
    assert _state(url) == (TABLES, "0001", 5)


def test_an_exit_code_that_means_failure_is_refused() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "shop.migrate", "--changed-exit-code", "1"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert "--changed-exit-code" in proc.stderr
