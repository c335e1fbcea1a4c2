"""The FastAPI application factory."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

import redis
from fastapi import FastAPI, HTTPException, Path, Response, status
from fastapi.responses import JSONResponse
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from shop import __version__, store, tasks
from shop.config import Settings, get_settings
from shop.jsonlog import AccessLogMiddleware, configure_logging
from shop.resources import Resources
from shop.schemas import SKU_PATTERN, OrderIn, ProductIn

log = logging.getLogger(__name__)

T = TypeVar("T")

OrderId = Annotated[int, Path(ge=1)]
SkuPath = Annotated[str, Path(pattern=SKU_PATTERN)]


def _check_database(engine: Engine) -> str:
    try:
        with engine.connect() as conn:
            conn.execute(text("SET LOCAL statement_timeout = 2000"))
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


def _check_redis(client: redis.Redis) -> str:
    try:
        client.ping()
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; ``settings`` defaults to the process environment."""
    settings = settings or get_settings()
    configure_logging()
    res = Resources(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        res.close()

    app = FastAPI(title="opsforge shop", version=__version__, lifespan=lifespan)
    app.add_middleware(AccessLogMiddleware)
    app.state.resources = res

    def read(query: Callable[[Connection], T]) -> T:
        """Run a read on the replica URL, or on the primary when the replica cannot be reached."""
        if res.replica is not res.primary:
            try:
                with res.replica.connect() as conn:
                    return query(conn)
            except OperationalError as exc:
                log.warning("read-only database unavailable, reading from primary: %s", type(exc).__name__)
        with res.primary.connect() as conn:
            return query(conn)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok", "release": settings.release}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        """Ready for traffic: not drained, database and Redis reachable."""
        if settings.drain_file and os.path.exists(settings.drain_file):
            return JSONResponse({"status": "draining", "drain_file": settings.drain_file}, status_code=503)
        checks = {"database": _check_database(res.primary), "redis": _check_redis(res.redis)}
        ready = all(value == "ok" for value in checks.values())
        if res.replica is not res.primary:
            checks["database_ro"] = _check_database(res.replica)  # reads fall back to the primary
        body = {"status": "ready" if ready else "unready", "release": settings.release, "checks": checks}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.post("/api/orders", status_code=status.HTTP_201_CREATED)
    def create_order(order: OrderIn, response: Response) -> dict[str, int]:
        """Write an order and its lines in one transaction."""
        try:
            with res.primary.begin() as conn:
                order_id = store.create_order(conn, order)
        except store.UnknownSkuError as exc:
            raise HTTPException(422, str(exc)) from None
        response.headers["Location"] = f"/api/orders/{order_id}"
        return {"id": order_id}

    @app.get("/api/orders/{order_id}")
    def get_order(order_id: OrderId) -> dict[str, Any]:
        """Read an order; a replica that has not caught up yet is retried on the primary."""
        order = read(lambda conn: store.get_order(conn, order_id))
        if order is None and res.replica is not res.primary:
            with res.primary.connect() as conn:
                order = store.get_order(conn, order_id)
        if order is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "order not found")
        return order

    @app.post("/api/orders/{order_id}/confirm", status_code=status.HTTP_202_ACCEPTED)
    def confirm_order(order_id: OrderId) -> dict[str, Any]:
        """Queue the confirmation task."""
        with res.primary.connect() as conn:
            if not store.order_exists(conn, order_id):
                raise HTTPException(status.HTTP_404_NOT_FOUND, "order not found")
        try:
            result = tasks.confirm_order.delay(order_id)
        except BrokerError as exc:
            log.error("cannot queue confirm_order for %s: %s", order_id, exc)
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "task queue unavailable") from None
        return {"order_id": order_id, "task_id": result.id}

    @app.get("/api/catalog")
    def catalog(response: Response) -> list[dict[str, Any]]:
        """All products, served from Redis for SHOP_CATALOG_TTL seconds."""
        try:
            generation, cached = res.catalog.get()
        except redis.RedisError as exc:
            log.warning("catalog cache unavailable: %s", type(exc).__name__)
            response.headers["X-Cache"] = "bypass"
            return read(store.list_products)
        if cached is not None:
            response.headers["X-Cache"] = "hit"
            return cached
        products = read(store.list_products)
        try:
            res.catalog.put(generation, products)
        except redis.RedisError as exc:
            log.warning("catalog cache unavailable: %s", type(exc).__name__)
        response.headers["X-Cache"] = "miss"
        return products

    @app.put("/api/catalog/{sku}")
    def put_product(sku: SkuPath, product: ProductIn, response: Response) -> dict[str, Any]:
        """Create or change a product and invalidate the cached catalog."""
        with res.primary.begin() as conn:
            created = store.upsert_product(conn, sku, product.name, product.price_cents)
        try:
            res.catalog.invalidate()
        except redis.RedisError as exc:  # the cached catalog then expires with its TTL
            log.error("catalog cache not invalidated after changing %s: %s", sku, type(exc).__name__)
        response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return {"sku": sku, "name": product.name, "price_cents": product.price_cents}

    return app
