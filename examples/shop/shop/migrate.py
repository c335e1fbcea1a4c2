"""``shop-migrate``: bring the database named by SHOP_DATABASE_URL to the newest schema revision.

Exit codes: 0 when it is done (with ``--changed-exit-code N``: 0 only when there was nothing to
apply, N when it applied revisions, so a caller such as the uvicorn role's migrate.yml learns
from the exit code alone whether the schema changed), 2 for a configuration error, 1 for a
failed migration.

Connect directly to PostgreSQL or through PgBouncer (any pool mode): everything runs
in one transaction holding a transaction-level advisory lock, so concurrent runs on
several nodes are safe. Revisions are written to be backward compatible: a release
adds what it needs before code uses it and never drops what the previous release reads.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass, field

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


@dataclass
class Migration:
    """What one run did: the head revision the database is at, and the revisions it applied."""

    head: str
    applied: list[str] = field(default_factory=list)


def migrate(database_url: str) -> Migration:
    """Apply pending revisions; say which ones (env.py records each revision as Alembic applies it)."""
    config = alembic_config(database_url)
    applied: list[str] = []
    config.attributes["applied"] = applied
    command.upgrade(config, "head")
    head = ScriptDirectory.from_config(config).get_current_head()
    return Migration(head or "base", applied)


def upgrade(database_url: str) -> str:
    """Apply pending revisions; return the head revision the database is now at."""
    return migrate(database_url).head


def changed_exit_code(value: str) -> int:
    """argparse type: an exit code that cannot be mistaken for success or for a failure (0, or 3 to 125)."""
    code = int(value)
    if code != 0 and not 3 <= code <= 125:
        raise argparse.ArgumentTypeError("use 0, or 3 to 125 (1 and 2 mean failures, above 125 the shell's own)")
    return code


def main(argv: list[str] | None = None) -> int:
    """Console entry point."""
    parser = argparse.ArgumentParser(prog="shop-migrate", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--changed-exit-code",
        type=changed_exit_code,
        default=0,
        metavar="N",
        help="exit with N instead of 0 when revisions were applied (0 then means: nothing to apply)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="shop-migrate: %(message)s", stream=sys.stderr)
    try:
        url = database_url_from_env()
    except SettingsError as exc:
        print(f"shop-migrate: configuration error: {exc}", file=sys.stderr)
        return 2
    result = migrate(url)
    print(f"shop-migrate: database schema at revision {result.head}")
    if result.applied:
        print(f"shop-migrate: applied {', '.join(result.applied)}")
        return args.changed_exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
