"""JSON formatter and access log lines; no services needed."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from shop.config import Settings
from shop.jsonlog import ACCESS_LOGGER, JsonFormatter
from shop.web import create_app


def _record(msg: str, **fields: object) -> logging.LogRecord:
    record = logging.LogRecord("shop.test", logging.WARNING, __file__, 1, msg, ("x",), None)
    if fields:
        record.fields = fields
    return record


def test_formatter_fields() -> None:
    line = JsonFormatter().format(_record("hello %s", route="/a/{b}", status=201))
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["level"] == "warning"
    assert entry["msg"] == "hello x"
    assert entry["logger"] == "shop.test"
    assert (entry["route"], entry["status"]) == ("/a/{b}", 201)
    assert entry["ts"].endswith("Z")
    ts = datetime.fromisoformat(entry["ts"])
    assert ts.utcoffset() is not None and ts.utcoffset().total_seconds() == 0
    assert abs((datetime.now(UTC) - ts).total_seconds()) < 5


def test_formatter_exception() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("shop", logging.ERROR, __file__, 1, "failed", (), None)
        import sys

        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert "RuntimeError: boom" in entry["exc"]


@pytest.fixture
def access_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.addHandler(handler)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


def test_one_access_line_per_request_with_route_template(access_lines: io.StringIO) -> None:
    settings = Settings.from_env(
        {
            "SHOP_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
            "SHOP_REDIS_URL": "redis://127.0.0.1:1/0",
            "SHOP_CELERY_BROKER_URL": "redis://127.0.0.1:1/1",
            "SHOP_CELERY_RESULT_BACKEND": "redis://127.0.0.1:1/2",
            "SHOP_RELEASE": "9.9.9",
        }
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").json() == {"status": "ok", "release": "9.9.9"}
        assert client.get("/api/orders/not-a-number").status_code == 422
        assert client.get("/nowhere").status_code == 404
    entries = [json.loads(line) for line in access_lines.getvalue().splitlines()]
    assert [(e["method"], e["route"], e["status"]) for e in entries] == [
        ("GET", "/healthz", 200),
        ("GET", "/api/orders/{order_id}", 422),
        ("GET", "unmatched", 404),
    ]
    for entry in entries:
        assert entry["level"] == "info"
        assert entry["ts"].endswith("Z")
        assert isinstance(entry["duration_ms"], float) and entry["duration_ms"] >= 0
