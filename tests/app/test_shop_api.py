"""HTTP API through FastAPI's TestClient against the throwaway PostgreSQL and Redis."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, pool, text

from shop.config import Settings
from shop.migrate import upgrade
from shop.web import create_app


@pytest.fixture(scope="module")
def settings(shop_env: dict[str, str], eager_celery: object) -> Settings:
    return Settings.from_env(shop_env)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    redis.Redis.from_url(settings.redis_url).flushdb()
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _sql(url: str, query: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(query), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def _new_sku(client: TestClient, price: int = 500) -> str:
    sku = f"T-{uuid.uuid4().hex[:10]}"
    assert client.put(f"/api/catalog/{sku}", json={"name": "Test item", "price_cents": price}).status_code == 201
    return sku


def test_create_and_read_order(client: TestClient) -> None:
    body = {"customer": "Ada", "items": [{"sku": "MUG-LOGO", "qty": 2}, {"sku": "STICKER-PACK", "qty": 1}]}
    created = client.post("/api/orders", json=body)
    assert created.status_code == 201
    order_id = created.json()["id"]
    assert created.headers["location"] == f"/api/orders/{order_id}"
    order = client.get(f"/api/orders/{order_id}").json()
    assert order["customer"] == "Ada"
    assert order["status"] == "new"
    assert order["items"] == [
        {"sku": "MUG-LOGO", "qty": 2, "price_cents": 1250},
        {"sku": "STICKER-PACK", "qty": 1, "price_cents": 400},
    ]
    assert order["total_cents"] == 2900


@pytest.mark.parametrize(
    "body",
    [
        {"customer": "", "items": [{"sku": "MUG-LOGO", "qty": 1}]},
        {"customer": "Ada", "items": []},
        {"customer": "Ada", "items": [{"sku": "MUG-LOGO", "qty": -1}]},
        {"items": [{"sku": "MUG-LOGO", "qty": 1}]},
    ],
)
def test_bad_orders_are_422(client: TestClient, body: dict[str, object]) -> None:
    assert client.post("/api/orders", json=body).status_code == 422


def test_unknown_sku_writes_nothing(client: TestClient, settings: Settings) -> None:
    customer = f"ghost-{uuid.uuid4().hex}"
    body = {"customer": customer, "items": [{"sku": "MUG-LOGO", "qty": 1}, {"sku": "NO-SUCH-THING", "qty": 1}]}
    response = client.post("/api/orders", json=body)
    assert response.status_code == 422
    assert response.json()["detail"] == "unknown sku: NO-SUCH-THING"
    assert _sql(settings.database_url, "SELECT count(*) FROM orders WHERE customer = :c", c=customer) == [(0,)]


def test_missing_order_is_404(client: TestClient) -> None:
    assert client.get("/api/orders/999999999").status_code == 404
    assert client.get("/api/orders/0").status_code == 422
    assert client.post("/api/orders/999999999/confirm").status_code == 404


def test_catalog_is_cached_and_invalidated(client: TestClient, settings: Settings) -> None:
    sku = _new_sku(client, price=700)
    first = client.get("/api/catalog")
    assert first.headers["x-cache"] == "miss"
    assert {"sku": sku, "name": "Test item", "price_cents": 700} in first.json()
    second = client.get("/api/catalog")
    assert second.headers["x-cache"] == "hit"
    assert second.json() == first.json()

    # A change behind the app's back is not seen until the TTL runs out...
    _sql(settings.database_url, "UPDATE products SET price_cents = 1 WHERE sku = :s", s=sku)
    assert {"sku": sku, "name": "Test item", "price_cents": 700} in client.get("/api/catalog").json()

    # ...but a change through the API invalidates the cached catalog at once.
    changed = client.put(f"/api/catalog/{sku}", json={"name": "Renamed", "price_cents": 900})
    assert changed.status_code == 200
    after = client.get("/api/catalog")
    assert after.headers["x-cache"] == "miss"
    assert {"sku": sku, "name": "Renamed", "price_cents": 900} in after.json()
    assert client.get("/api/catalog").headers["x-cache"] == "hit"


def test_catalog_without_redis_reads_the_database(settings: Settings) -> None:
    broken = dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0")
    with TestClient(create_app(broken)) as client:
        response = client.get("/api/catalog")
    assert response.status_code == 200
    assert response.headers["x-cache"] == "bypass"
    assert any(product["sku"] == "MUG-LOGO" for product in response.json())


def test_readyz_and_drain(client: TestClient, settings: Settings) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}
    assert settings.drain_file is not None
    drain = Path(settings.drain_file)
    drain.touch()
    try:
        draining = client.get("/readyz")
        assert draining.status_code == 503
        assert draining.json()["status"] == "draining"
        assert client.get("/healthz").status_code == 200
    finally:
        drain.unlink()
    assert client.get("/readyz").status_code == 200


def test_readyz_names_the_dependency_that_is_down(settings: Settings) -> None:
    broken = dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0")
    with TestClient(create_app(broken)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == "ok"
    assert checks["redis"].startswith("error")


def test_lagging_replica_is_retried_on_primary(client: TestClient, settings: Settings, postgres) -> None:
    # A migrated but empty database stands in for a replica that has not replayed the order yet.
    replica_url = postgres.create_database("shop_lagging_replica")
    upgrade(replica_url)
    body = {"customer": "Lag", "items": [{"sku": "CAP-GREY", "qty": 1}]}
    order_id = client.post("/api/orders", json=body).json()["id"]
    lagging = dataclasses.replace(settings, database_ro_url=replica_url)
    with TestClient(create_app(lagging)) as replica_client:
        assert replica_client.get(f"/api/orders/{order_id}").json()["customer"] == "Lag"
        assert replica_client.get("/api/orders/999999999").status_code == 404


def test_unreachable_replica_falls_back_to_primary(client: TestClient, settings: Settings) -> None:
    order_id = client.post("/api/orders", json={"customer": "Ro", "items": [{"sku": "CAP-GREY", "qty": 1}]}).json()[
        "id"
    ]
    down = dataclasses.replace(settings, database_ro_url="postgresql://nobody@127.0.0.1:1/none")
    with TestClient(create_app(down)) as replica_client:
        assert replica_client.get(f"/api/orders/{order_id}").status_code == 200
        ready = replica_client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database_ro"].startswith("error")


def test_confirm_runs_the_task_once(client: TestClient, settings: Settings) -> None:
    body = {"customer": "Bo", "items": [{"sku": "TEE-BLACK-M", "qty": 1}]}
    order_id = client.post("/api/orders", json=body).json()["id"]
    for _attempt in range(2):
        response = client.post(f"/api/orders/{order_id}/confirm")
        assert response.status_code == 202
        assert response.json()["task_id"]
    assert client.get(f"/api/orders/{order_id}").json()["status"] == "confirmed"
    url = settings.database_url
    assert _sql(url, "SELECT count(*) FROM confirmations WHERE order_id = :o", o=order_id) == [(1,)]
    assert _sql(url, "SELECT kind FROM email_outbox WHERE order_id = :o", o=order_id) == [("order_confirmed",)]
