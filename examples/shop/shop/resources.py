"""Connections one process holds: primary and read-only engines, Redis and the catalog cache."""

from __future__ import annotations

import redis

from shop.cache import CatalogCache
from shop.config import Settings
from shop.db import make_engine


class Resources:
    """Lazily connecting clients built from settings; nothing connects until first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.primary = make_engine(settings.database_url)
        self.replica = make_engine(settings.database_ro_url) if settings.has_replica else self.primary
        self.redis = redis.Redis.from_url(
            settings.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0, health_check_interval=30
        )
        self.catalog = CatalogCache(self.redis, settings.catalog_ttl)

    def close(self) -> None:
        """Close pooled connections (on shutdown)."""
        self.primary.dispose()
        self.replica.dispose()
        self.redis.close()
