# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Shared helpers for talking to the PgBouncer admin console from the modules: their options and their failures.

The console itself (deadlines on every statement) is pgbouncer_console.py, which needs no Ansible and is shared
with the pgbouncer role's leader watcher.
"""

from typing import Any, Optional

from ansible_collections.opsforge.webstack.plugins.module_utils.pgbouncer_console import (
    ADMIN_DB,
    AdminError,
    AdminTimeout,
    Console,
    is_not_paused_error,
    rows_to_dicts,
)
from ansible_collections.opsforge.webstack.plugins.module_utils.postgres import (
    connection_kwargs,
    describe_target,
    ensure_psycopg2,
    postgres_common_argument_spec,
)

__all__ = [
    "ADMIN_PORT",
    "AdminConsole",
    "AdminError",
    "AdminTimeout",
    "admin_connection_kwargs",
    "is_not_paused_error",
    "open_admin_console",
    "pgbouncer_common_argument_spec",
    "resume",
    "rows_to_dicts",
]

ADMIN_PORT = 6432


def pgbouncer_common_argument_spec():
    """Options for reaching the admin console (the pgbouncer doc fragment): the PostgreSQL ones but the database."""
    spec = postgres_common_argument_spec(default_user="pgbouncer", default_port=ADMIN_PORT)
    del spec["login_db"]
    return spec


def admin_connection_kwargs(params):
    """psycopg2.connect() keyword arguments for the admin console (pure)."""
    return connection_kwargs(params, dbname=ADMIN_DB, default_port=ADMIN_PORT)


class AdminConsole(Console):
    """The admin console reached with a module's login options."""

    def __init__(self, params):
        super().__init__(connect_timeout=params.get("connect_timeout") or 10)
        self.params = params

    def connect_kwargs(self):
        return admin_connection_kwargs(self.params)

    def describe(self):
        return describe_target(self.params, default_port=ADMIN_PORT)


def resume(
    params: dict[str, Any],
    timeout: float,
    statement: str = "RESUME",
    console: Optional["AdminConsole"] = None,
    attempts: int = 1,
) -> Optional[str]:
    """RESUME on the open console, else (or after a failure) on fresh ones; an error text or None.

    "not paused" counts as done: whatever was paused is running again.
    """
    last = None
    for attempt in range(attempts):
        fresh = None
        try:
            if console is None or attempt:
                fresh = AdminConsole(params).open()
            (fresh or console).run(statement, timeout)
            return None
        except (AdminError, AdminTimeout) as exc:
            last = str(exc) or "no answer"
            if is_not_paused_error(last):
                return None
        finally:
            if fresh is not None:
                fresh.close()
    return last


def open_admin_console(module):
    """Open the admin console or fail the module with a message naming the target."""
    ensure_psycopg2(module)
    console = AdminConsole(module.params)
    try:
        return console.open()
    except AdminError as exc:
        module.fail_json(
            msg=f"Could not connect to the PgBouncer admin console as {console.describe()}: {exc}. "
            "Check login_host/login_port, that PgBouncer is running and that login_user is listed in admin_users."
        )
