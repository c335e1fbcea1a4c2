"""The scenario's Celery host, for the checks in test_celery.py (tests/lab/test_celery_tier.py gives the lab's)."""

from types import SimpleNamespace

import pytest


@pytest.fixture(scope="module")
def tier(host):
    return SimpleNamespace(
        database=host,  # prepare.yml runs PostgreSQL on the instance itself
        hostname="molecule-celery",
        queues=("default", "emails", "imports", "reports"),  # the role's default celery_queues
        db_password="molecule-S3cret-celery",  # vars/shop.yml
        app_env={"SHOP_CELERY_VISIBILITY_TIMEOUT": "120"},  # entries of celery_app_env (vars/shop.yml)
        # converge.yml: celery_longest_task_seconds 30, so the soft limit is 27 s and systemd waits 30 s + 60 s.
        soft_time_limit=27,
        time_limit=30,
        stop_timeout="1min 30s",
    )
