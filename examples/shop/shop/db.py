"""Table definitions for queries and engine construction suited to PgBouncer transaction pooling.

The schema itself is owned by the Alembic migrations in ``shop/migrations``; these
definitions only describe the columns the code reads and writes.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    SmallInteger,
    Table,
    Text,
    create_engine,
)

metadata = MetaData()

products = Table(
    "products",
    metadata,
    Column("sku", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("price_cents", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

orders = Table(
    "orders",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("customer", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("order_id", BigInteger, ForeignKey("orders.id"), primary_key=True),
    Column("line_no", SmallInteger, primary_key=True),
    Column("sku", Text, ForeignKey("products.sku"), nullable=False),
    Column("qty", Integer, nullable=False),
    Column("price_cents", Integer, nullable=False),
)

confirmations = Table(
    "confirmations",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("order_id", BigInteger, ForeignKey("orders.id"), nullable=False, unique=True),
    Column("confirmed_at", DateTime(timezone=True), nullable=False),
)

email_outbox = Table(
    "email_outbox",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("order_id", BigInteger, ForeignKey("orders.id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

task_runs = Table(
    "task_runs",
    metadata,
    Column("token", Text, primary_key=True),
    Column("executions", Integer, nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
)


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine that is safe behind PgBouncer in transaction mode.

    psycopg2 never uses server-side prepared statements and the code keeps no session
    state (SET, temp tables, advisory session locks) across transactions, so any
    server connection may serve any transaction. ``pool_pre_ping`` drops connections
    that PgBouncer or a restarted server closed.
    """
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"connect_timeout": 3, "application_name": "shop"},
    )
