"""Celery tasks run eagerly (tests only) against the throwaway PostgreSQL and Redis."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import redis
from sqlalchemy import create_engine, pool, text

from shop import tasks
from shop.cache import CatalogCache
from shop.celery_app import TASK_ROUTES


@pytest.fixture(scope="module")
def db_url(shop_env: dict[str, str], eager_celery: object) -> str:
    return shop_env["SHOP_DATABASE_URL"]


def _sql(url: str, query: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(query), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def _order(url: str) -> int:
    rows = _sql(url, "INSERT INTO orders (customer) VALUES ('task-test') RETURNING id")
    _sql(url, "INSERT INTO order_lines VALUES (:o, 1, 'MUG-LOGO', 3, 1250)", o=rows[0][0])
    return int(rows[0][0])  # type: ignore[call-overload]


def test_every_task_is_registered_and_routed(db_url: str, eager_celery) -> None:
    assert {name for name in eager_celery.tasks if name.startswith("shop.")} == set(TASK_ROUTES)


def test_confirm_order_twice_leaves_one_confirmation(db_url: str) -> None:
    order_id = _order(db_url)
    first = tasks.confirm_order.delay(order_id).get()
    second = tasks.confirm_order.delay(order_id).get()
    assert first == {"order_id": order_id, "confirmed": True, "new": True}
    assert second == {"order_id": order_id, "confirmed": True, "new": False}
    assert _sql(db_url, "SELECT count(*) FROM confirmations WHERE order_id = :o", o=order_id) == [(1,)]
    assert _sql(db_url, "SELECT count(*) FROM email_outbox WHERE order_id = :o", o=order_id) == [(1,)]
    assert _sql(db_url, "SELECT status FROM orders WHERE id = :o", o=order_id) == [("confirmed",)]


def test_confirm_missing_order(db_url: str) -> None:
    assert tasks.confirm_order.delay(999_999_999).get() == {"order_id": 999_999_999, "confirmed": False}


def test_slow_task_keeps_one_row_per_token(db_url: str) -> None:
    token = uuid.uuid4().hex
    assert tasks.slow_task.delay(0.01, token).get() == 1
    assert tasks.slow_task.delay(0.0, token).get() == 2
    assert _sql(db_url, "SELECT count(*), max(executions) FROM task_runs WHERE token = :t", t=token) == [(1, 2)]


def test_import_products_invalidates_catalog(db_url: str, shop_env: dict[str, str]) -> None:
    cache = CatalogCache(redis.Redis.from_url(shop_env["SHOP_REDIS_URL"]), ttl=30)
    before = cache.generation()
    sku = f"IMP-{uuid.uuid4().hex[:8]}"
    rows = [
        {"sku": sku, "name": "Imported", "price_cents": 321},
        {"sku": "MUG-LOGO", "name": "Mug with logo", "price_cents": 1250},
    ]
    assert tasks.import_products.delay(rows).get() == 2
    assert _sql(db_url, "SELECT name, price_cents FROM products WHERE sku = :s", s=sku) == [("Imported", 321)]
    assert cache.generation() == before + 1


def test_build_report_counts_today(db_url: str) -> None:
    before = tasks.build_report.delay().get()
    order_id = _order(db_url)
    tasks.confirm_order.delay(order_id).get()
    after = tasks.build_report.delay(datetime.now(UTC).date().isoformat()).get()
    assert after["orders"] == before["orders"] + 1
    assert after["confirmed"] == before["confirmed"] + 1
    assert after["revenue_cents"] == before["revenue_cents"] + 3 * 1250
    assert tasks.build_report.delay("2000-01-01").get()["orders"] == 0


def test_cleanup_deletes_only_old_outbox_rows(db_url: str) -> None:
    old, fresh = _order(db_url), _order(db_url)
    _sql(
        db_url,
        "INSERT INTO email_outbox (order_id, kind, created_at) VALUES (:o, 'x', now() - interval '31 days')",
        o=old,
    )
    _sql(db_url, "INSERT INTO email_outbox (order_id, kind) VALUES (:o, 'x')", o=fresh)
    assert tasks.cleanup.delay().get() >= 1
    remaining = _sql(db_url, "SELECT order_id FROM email_outbox WHERE order_id IN (:a, :b)", a=old, b=fresh)
    assert remaining == [(fresh,)]
