"""Database operations; each takes a connection whose transaction the caller owns."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from shop.db import confirmations, email_outbox, order_lines, orders, products, task_runs
from shop.schemas import OrderIn


class UnknownSkuError(LookupError):
    """An order names products that do not exist."""

    def __init__(self, skus: list[str]) -> None:
        super().__init__(f"unknown sku: {', '.join(skus)}")
        self.skus = skus


def create_order(conn: Connection, order: OrderIn) -> int:
    """Insert an order and its lines at current prices; return its id."""
    skus = [item.sku for item in order.items]
    rows = conn.execute(select(products.c.sku, products.c.price_cents).where(products.c.sku.in_(skus)))
    prices: dict[str, int] = {row.sku: row.price_cents for row in rows}
    missing = sorted(set(skus) - prices.keys())
    if missing:
        raise UnknownSkuError(missing)
    order_id: int = conn.execute(insert(orders).values(customer=order.customer).returning(orders.c.id)).scalar_one()
    conn.execute(
        insert(order_lines),
        [
            {"order_id": order_id, "line_no": n, "sku": item.sku, "qty": item.qty, "price_cents": prices[item.sku]}
            for n, item in enumerate(order.items, start=1)
        ],
    )
    return order_id


def get_order(conn: Connection, order_id: int) -> dict[str, Any] | None:
    """The order with its lines and total, or None."""
    row = conn.execute(
        select(orders.c.id, orders.c.customer, orders.c.status, orders.c.created_at).where(orders.c.id == order_id)
    ).first()
    if row is None:
        return None
    lines = conn.execute(
        select(order_lines.c.sku, order_lines.c.qty, order_lines.c.price_cents)
        .where(order_lines.c.order_id == order_id)
        .order_by(order_lines.c.line_no)
    ).all()
    items = [{"sku": line.sku, "qty": line.qty, "price_cents": line.price_cents} for line in lines]
    return {
        "id": row.id,
        "customer": row.customer,
        "status": row.status,
        "created_at": row.created_at.isoformat(),
        "items": items,
        "total_cents": sum(item["qty"] * item["price_cents"] for item in items),
    }


def order_exists(conn: Connection, order_id: int) -> bool:
    """Whether an order with this id exists."""
    return conn.execute(select(orders.c.id).where(orders.c.id == order_id)).first() is not None


def list_products(conn: Connection) -> list[dict[str, Any]]:
    """All products ordered by sku."""
    rows = conn.execute(select(products.c.sku, products.c.name, products.c.price_cents).order_by(products.c.sku))
    return [dict(row._mapping) for row in rows]


def upsert_product(conn: Connection, sku: str, name: str, price_cents: int) -> bool:
    """Create or change a product; return True when it was created."""
    values = {"name": name, "price_cents": price_cents}
    changed = conn.execute(update(products).where(products.c.sku == sku).values(**values, updated_at=func.now()))
    if changed.rowcount:
        return False
    conn.execute(
        pg_insert(products)
        .values(sku=sku, **values)
        .on_conflict_do_update(index_elements=[products.c.sku], set_={**values, "updated_at": func.now()})
    )
    return True


def confirm_order(conn: Connection, order_id: int) -> bool | None:
    """Mark the order confirmed and record one confirmation.

    Returns True when this call recorded the confirmation, False when it already
    existed (a retried task), None when there is no such order.
    """
    found = conn.execute(
        update(orders).where(orders.c.id == order_id).values(status="confirmed").returning(orders.c.id)
    ).first()
    if found is None:
        return None
    inserted = conn.execute(
        pg_insert(confirmations)
        .values(order_id=order_id)
        .on_conflict_do_nothing(index_elements=[confirmations.c.order_id])
        .returning(confirmations.c.id)
    ).first()
    return inserted is not None


def queue_email(conn: Connection, order_id: int, kind: str) -> bool:
    """Record an outgoing e-mail once per (order, kind); return True when newly recorded."""
    inserted = conn.execute(
        pg_insert(email_outbox)
        .values(order_id=order_id, kind=kind)
        .on_conflict_do_nothing(index_elements=[email_outbox.c.order_id, email_outbox.c.kind])
        .returning(email_outbox.c.id)
    ).first()
    return inserted is not None


def record_task_run(conn: Connection, token: str) -> int:
    """Record that the task keyed by ``token`` finished; return how often it has run."""
    stmt = (
        pg_insert(task_runs)
        .values(token=token, executions=1)
        .on_conflict_do_update(
            index_elements=[task_runs.c.token],
            set_={"executions": task_runs.c.executions + 1, "finished_at": func.now()},
        )
        .returning(task_runs.c.executions)
    )
    executions: int = conn.execute(stmt).scalar_one()
    return executions


def delete_old_emails(conn: Connection, older_than: timedelta) -> int:
    """Delete outbox rows older than ``older_than``; return how many."""
    cutoff = datetime.now(UTC) - older_than
    return conn.execute(delete(email_outbox).where(email_outbox.c.created_at < cutoff)).rowcount


def daily_report(conn: Connection, day: date) -> dict[str, Any]:
    """Order count, confirmed count and revenue of one UTC day."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    line_total = func.coalesce(func.sum(order_lines.c.qty * order_lines.c.price_cents), 0)
    row = conn.execute(
        select(
            func.count(func.distinct(orders.c.id)).label("orders"),
            func.count(func.distinct(orders.c.id)).filter(orders.c.status == "confirmed").label("confirmed"),
            line_total.label("revenue_cents"),
        )
        .select_from(orders.join(order_lines))
        .where(orders.c.created_at >= start, orders.c.created_at < start + timedelta(days=1))
    ).one()
    return {
        "day": day.isoformat(),
        "orders": row.orders,
        "confirmed": row.confirmed,
        "revenue_cents": int(row.revenue_cents),
    }
