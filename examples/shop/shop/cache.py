"""Catalog cache in Redis with generation-numbered keys.

Readers fetch the current generation, then the catalog stored under that generation.
A writer commits its change and then increments the generation, so a reader that
loaded the old rows concurrently can only fill a key nobody reads any more: a stale
catalog is never served after an invalidation. Old generations expire with the TTL.
"""

from __future__ import annotations

import json
from typing import Any, cast

import redis

GENERATION_KEY = "shop:catalog:generation"


def catalog_key(generation: int) -> str:
    """The Redis key holding the catalog of one generation."""
    return f"shop:catalog:v{generation}"


class CatalogCache:
    """Read-through cache of the product list (redis-py's sync client; casts narrow its union return types)."""

    def __init__(self, client: redis.Redis, ttl: int) -> None:
        self.client = client
        self.ttl = ttl

    def generation(self) -> int:
        """The current generation (0 before the first invalidation)."""
        raw = cast("bytes | None", self.client.get(GENERATION_KEY))
        return int(raw) if raw is not None else 0

    def get(self) -> tuple[int, list[dict[str, Any]] | None]:
        """Return the current generation and its cached catalog, or None on a miss."""
        generation = self.generation()
        raw = cast("bytes | None", self.client.get(catalog_key(generation)))
        return generation, json.loads(raw) if raw is not None else None

    def put(self, generation: int, catalog: list[dict[str, Any]]) -> None:
        """Store the catalog loaded while ``generation`` was current."""
        self.client.set(catalog_key(generation), json.dumps(catalog, separators=(",", ":")), ex=self.ttl)

    def invalidate(self) -> int:
        """Start a new generation; call after the database change has committed."""
        return cast(int, self.client.incr(GENERATION_KEY))
