"""Settings read from SHOP_* environment variables (the deploy writes them to an env file)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from shop import __version__


class SettingsError(ValueError):
    """A required variable is missing or a value cannot be parsed."""


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"environment variable {name} is required but not set")
    return value


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"environment variable {name} must be an integer, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"environment variable {name} must be positive, got {value}")
    return value


def database_url_from_env(env: Mapping[str, str] | None = None) -> str:
    """Return SHOP_DATABASE_URL; the migration command needs nothing else."""
    return _required(os.environ if env is None else env, "SHOP_DATABASE_URL")


@dataclass(frozen=True)
class Settings:
    """Everything the web app and the workers are configured with."""

    database_url: str
    database_ro_url: str
    redis_url: str
    celery_broker_url: str
    celery_result_backend: str
    drain_file: str | None
    catalog_ttl: int
    release: str
    celery_visibility_timeout: int

    @property
    def has_replica(self) -> bool:
        """True when reads go to a different URL than writes."""
        return self.database_ro_url != self.database_url

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default: the process environment), naming any missing variable."""
        env = os.environ if env is None else env
        database_url = database_url_from_env(env)
        return cls(
            database_url=database_url,
            database_ro_url=env.get("SHOP_DATABASE_RO_URL", "").strip() or database_url,
            redis_url=_required(env, "SHOP_REDIS_URL"),
            celery_broker_url=_required(env, "SHOP_CELERY_BROKER_URL"),
            celery_result_backend=_required(env, "SHOP_CELERY_RESULT_BACKEND"),
            drain_file=env.get("SHOP_DRAIN_FILE", "").strip() or None,
            catalog_ttl=_positive_int(env, "SHOP_CATALOG_TTL", 60),
            release=env.get("SHOP_RELEASE", "").strip() or __version__,
            celery_visibility_timeout=_positive_int(env, "SHOP_CELERY_VISIBILITY_TIMEOUT", 3600),
        )


@cache
def get_settings() -> Settings:
    """Settings of this process, read once from the environment."""
    return Settings.from_env()


def check_main() -> int:
    """``shop-check-config``: exit 0 when the environment is complete, else name what is missing.

    Meant for ``ExecStartPre=``: with ``--workers N`` uvicorn's supervisor keeps restarting
    workers that fail to import the app instead of exiting, so check before starting it.
    """
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"shop: configuration error: {exc}", file=sys.stderr)
        return 2
    print(f"shop: configuration complete (release {settings.release})")
    return 0
