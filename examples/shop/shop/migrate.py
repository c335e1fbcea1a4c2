"""``shop-migrate``: bring the database named by SHOP_DATABASE_URL to the newest schema revision.

Connect directly to PostgreSQL or through PgBouncer (any pool mode): everything runs
in one transaction holding a transaction-level advisory lock, so concurrent runs on
several nodes are safe. Revisions are written to be backward compatible: a release
adds what it needs before code uses it and never drops what the previous release reads.
"""

from __future__ import annotations

import logging
import sys

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from shop.config import SettingsError, database_url_from_env

LOCK_KEY = 0x73686F70  # "shop"
LOCK_TIMEOUT = "10s"


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration for the packaged migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", "shop:migrations")
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str) -> str:
    """Apply pending revisions; return the head revision the database is now at."""
    config = alembic_config(database_url)
    command.upgrade(config, "head")
    head = ScriptDirectory.from_config(config).get_current_head()
    return head or "base"


def main() -> int:
    """Console entry point."""
    logging.basicConfig(level=logging.INFO, format="shop-migrate: %(message)s", stream=sys.stderr)
    try:
        url = database_url_from_env()
    except SettingsError as exc:
        print(f"shop-migrate: configuration error: {exc}", file=sys.stderr)
        return 2
    head = upgrade(url)
    print(f"shop-migrate: database schema at revision {head}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
