"""Celery tasks. Every task is idempotent: running it again after a redelivery changes nothing."""

from __future__ import annotations

import logging
import time
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from shop import store
from shop.celery_app import app
from shop.config import get_settings
from shop.resources import Resources
from shop.schemas import ProductImport

log = logging.getLogger(__name__)

EMAIL_RETENTION = timedelta(days=30)


@cache
def resources() -> Resources:
    """This worker process's connections, created on first use (after the prefork)."""
    return Resources(get_settings())


@app.task(name="shop.tasks.confirm_order")
def confirm_order(order_id: int) -> dict[str, Any]:
    """Confirm an order once, then queue its confirmation e-mail."""
    with resources().primary.begin() as conn:
        recorded = store.confirm_order(conn, order_id)
    if recorded is None:
        log.warning("confirm_order: no order %s", order_id)
        return {"order_id": order_id, "confirmed": False}
    # Queued even when the confirmation already existed: an earlier run may have died before this line.
    send_order_email.delay(order_id, "order_confirmed")
    return {"order_id": order_id, "confirmed": True, "new": recorded}


@app.task(name="shop.tasks.send_order_email")
def send_order_email(order_id: int, kind: str = "order_confirmed") -> bool:
    """Record the e-mail in the outbox (one row per order and kind)."""
    with resources().primary.begin() as conn:
        return store.queue_email(conn, order_id, kind)


@app.task(name="shop.tasks.import_products")
def import_products(rows: list[dict[str, Any]]) -> int:
    """Create or update products in one transaction, then invalidate the catalog cache."""
    products = [ProductImport.model_validate(row) for row in rows]
    with resources().primary.begin() as conn:
        for product in products:
            store.upsert_product(conn, product.sku, product.name, product.price_cents)
    resources().catalog.invalidate()
    return len(products)


@app.task(name="shop.tasks.build_report")
def build_report(day: str | None = None) -> dict[str, Any]:
    """Orders and revenue of one UTC day (ISO date; default today)."""
    when = date.fromisoformat(day) if day else datetime.now(UTC).date()
    with resources().replica.connect() as conn:
        return store.daily_report(conn, when)


@app.task(name="shop.tasks.slow_task")
def slow_task(seconds: float, token: str) -> int:
    """Sleep, then record ``token``; used to prove that restarting workers loses no task."""
    time.sleep(seconds)
    with resources().primary.begin() as conn:
        return store.record_task_run(conn, token)


@app.task(name="shop.tasks.cleanup")
def cleanup() -> int:
    """Delete outbox rows older than 30 days (run by beat)."""
    with resources().primary.begin() as conn:
        deleted = store.delete_old_emails(conn, EMAIL_RETENTION)
    log.info("cleanup: deleted %d outbox rows", deleted)
    return deleted
