"""Settings from the environment and start-up failures; no services needed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from shop import __version__
from shop.celery_app import QUEUES, TASK_ROUTES, celery_config
from shop.config import Settings, SettingsError

BASE = {
    "SHOP_DATABASE_URL": "postgresql://shop@127.0.0.1:6432/shop",
    "SHOP_REDIS_URL": "redis://127.0.0.1:6379/0",
    "SHOP_CELERY_BROKER_URL": "redis://127.0.0.1:6379/1",
    "SHOP_CELERY_RESULT_BACKEND": "redis://127.0.0.1:6379/2",
}


def test_defaults() -> None:
    settings = Settings.from_env(BASE)
    assert settings.database_ro_url == settings.database_url
    assert not settings.has_replica
    assert settings.catalog_ttl == 60
    assert settings.celery_visibility_timeout == 3600
    assert settings.drain_file is None
    assert settings.release == __version__ == "1.0.0"


def test_all_variables() -> None:
    env = {
        **BASE,
        "SHOP_DATABASE_RO_URL": "postgresql://shop@127.0.0.1:6432/shop_ro",
        "SHOP_DRAIN_FILE": "/run/shop/drain",
        "SHOP_CATALOG_TTL": "5",
        "SHOP_RELEASE": "1.0.1",
        "SHOP_CELERY_VISIBILITY_TIMEOUT": "7200",
    }
    settings = Settings.from_env(env)
    assert settings.has_replica
    assert settings.database_ro_url.endswith("/shop_ro")
    assert (settings.drain_file, settings.catalog_ttl, settings.release) == ("/run/shop/drain", 5, "1.0.1")
    assert settings.celery_visibility_timeout == 7200


@pytest.mark.parametrize("missing", sorted(BASE))
def test_missing_variable_is_named(missing: str) -> None:
    env = {k: v for k, v in BASE.items() if k != missing}
    with pytest.raises(SettingsError, match=missing):
        Settings.from_env(env)


def test_blank_counts_as_missing() -> None:
    with pytest.raises(SettingsError, match="SHOP_REDIS_URL"):
        Settings.from_env({**BASE, "SHOP_REDIS_URL": "  "})


@pytest.mark.parametrize("value", ["abc", "0", "-5", "1.5"])
def test_bad_ttl(value: str) -> None:
    with pytest.raises(SettingsError, match="SHOP_CATALOG_TTL"):
        Settings.from_env({**BASE, "SHOP_CATALOG_TTL": value})


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SHOP_")}


def test_app_start_fails_naming_variable() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import shop.main"], env=_clean_env(), capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1
    expected = "shop: configuration error: environment variable SHOP_DATABASE_URL is required but not set"
    assert proc.stderr.strip() == expected


def test_migrate_fails_naming_variable() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "shop.migrate"], env=_clean_env(), capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert "SHOP_DATABASE_URL" in proc.stderr


@pytest.mark.parametrize(
    ("env", "code", "stream", "text"), [({}, 2, "stderr", "SHOP_DATABASE_URL"), (BASE, 0, "stdout", "1.0.0")]
)
def test_check_config(env: dict[str, str], code: int, stream: str, text: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from shop.config import check_main; sys.exit(check_main())"],
        env={**_clean_env(), **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == code
    assert text in getattr(proc, stream)


def test_celery_config_never_loses_tasks() -> None:
    conf = celery_config(Settings.from_env({**BASE, "SHOP_CELERY_VISIBILITY_TIMEOUT": "900"}))
    assert conf["task_acks_late"] is True
    assert conf["task_reject_on_worker_lost"] is True
    assert conf["worker_prefetch_multiplier"] == 1
    assert conf["broker_transport_options"] == {"visibility_timeout": 900}
    assert conf["broker_url"].endswith("/1")
    assert conf["result_backend"].endswith("/2")
    assert {q.name for q in conf["task_queues"]} == set(QUEUES)
    assert {route["queue"] for route in TASK_ROUTES.values()} == set(QUEUES)
    assert conf["beat_schedule"]["cleanup-email-outbox"]["task"] == "shop.tasks.cleanup"
