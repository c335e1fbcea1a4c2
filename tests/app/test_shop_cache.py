"""Catalog cache keys and invalidation against the throwaway Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from shop.cache import GENERATION_KEY, CatalogCache, catalog_key


@pytest.fixture
def client(redis_server: str) -> Iterator[redis.Redis]:
    conn = redis.Redis.from_url(f"{redis_server}/0")
    conn.flushdb()
    try:
        yield conn
    finally:
        conn.close()


def test_key_names() -> None:
    assert catalog_key(0) == "shop:catalog:v0"
    assert catalog_key(12) == "shop:catalog:v12"
    assert GENERATION_KEY not in {catalog_key(n) for n in range(3)}


def test_miss_put_hit_with_ttl(client: redis.Redis) -> None:
    cache = CatalogCache(client, ttl=30)
    assert cache.get() == (0, None)
    cache.put(0, [{"sku": "A", "name": "a", "price_cents": 1}])
    assert cache.get() == (0, [{"sku": "A", "name": "a", "price_cents": 1}])
    assert 0 < client.ttl(catalog_key(0)) <= 30


def test_invalidate_starts_a_new_generation(client: redis.Redis) -> None:
    cache = CatalogCache(client, ttl=30)
    cache.put(0, [{"sku": "A"}])
    assert cache.invalidate() == 1
    assert cache.get() == (1, None)
    assert cache.invalidate() == 2


def test_a_late_fill_of_an_old_generation_is_never_served(client: redis.Redis) -> None:
    cache = CatalogCache(client, ttl=30)
    generation, _rows = cache.get()  # a reader misses and loads the old rows from the database...
    cache.invalidate()  # ...while a writer commits a change and invalidates...
    cache.put(generation, [{"sku": "A", "price_cents": 1}])  # ...and then the reader fills the cache.
    assert cache.get() == (1, None)
