"""The Celery application (``celery -A shop.celery_app:app worker|beat``).

Configuration is read from the environment the first time Celery needs it, so a
missing variable stops the worker or beat at start-up with the variable's name.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Queue

from shop.config import Settings, get_settings

QUEUES = ("default", "emails", "imports", "reports")

TASK_ROUTES = {
    "shop.tasks.confirm_order": {"queue": "default"},
    "shop.tasks.slow_task": {"queue": "default"},
    "shop.tasks.cleanup": {"queue": "default"},
    "shop.tasks.send_order_email": {"queue": "emails"},
    "shop.tasks.import_products": {"queue": "imports"},
    "shop.tasks.build_report": {"queue": "reports"},
}


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings: no task is lost when a worker stops or dies mid-task."""
    return {
        "broker_url": settings.celery_broker_url,
        "result_backend": settings.celery_result_backend,
        "broker_connection_retry_on_startup": True,
        # A message unacknowledged for this long is delivered again; it must exceed the longest task.
        "broker_transport_options": {"visibility_timeout": settings.celery_visibility_timeout},
        "result_backend_transport_options": {"visibility_timeout": settings.celery_visibility_timeout},
        "result_expires": 86400,
        # Acknowledge after the task ran, and requeue when the worker process is killed under it.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "task_default_queue": "default",
        "task_queues": [Queue(name) for name in QUEUES],
        "task_routes": TASK_ROUTES,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
        "enable_utc": True,
        "beat_schedule": {
            "cleanup-email-outbox": {"task": "shop.tasks.cleanup", "schedule": 3600.0},
        },
    }


app = Celery("shop", include=["shop.tasks"])
app.add_defaults(lambda: celery_config(get_settings()))
