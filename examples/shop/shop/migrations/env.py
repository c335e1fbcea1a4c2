"""Alembic environment: all pending revisions run in one transaction under a transaction-level advisory lock.

``pg_advisory_xact_lock`` (not the session-level ``pg_advisory_lock``) keeps the lock
correct through PgBouncer in transaction pooling mode: it is held by the very
transaction that applies the revisions and released by its commit, so a second
concurrent ``shop-migrate`` waits, then finds the database at head and does nothing.
"""

from alembic import context
from sqlalchemy import create_engine, pool, text

from shop.migrate import LOCK_KEY, LOCK_TIMEOUT

config = context.config


def record_applied(*, ctx: object, step: object, heads: object, run_args: object) -> None:
    """Note each revision Alembic applies, for shop-migrate's exit code (see shop.migrate.migrate)."""
    del ctx, heads, run_args
    config.attributes.setdefault("applied", []).append(step.up_revision_id)  # type: ignore[attr-defined]


def run_migrations_online() -> None:
    """Apply pending revisions over one connection and one transaction."""
    engine = create_engine(
        config.attributes["database_url"],
        poolclass=pool.NullPool,
        connect_args={"connect_timeout": 10, "application_name": "shop-migrate"},
    )
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, transaction_per_migration=False, on_version_apply=record_applied)
            with context.begin_transaction():
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
                # Give up rather than queue DDL behind a long transaction and stall the tables' traffic.
                connection.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("shop migrations run against a live database only (no --sql mode)")
run_migrations_online()
