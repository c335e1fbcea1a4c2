# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Shared helpers for talking to the PgBouncer admin console.

The admin console speaks only the simple query protocol and has no
transactions. Statements run on an asynchronous psycopg2 connection so that
every one of them has a deadline: PAUSE can block for as long as a client
keeps a server connection busy, and the caller must be able to give up.
"""

import contextlib
import select
import time
from typing import Any, Optional

from ansible_collections.opsforge.webstack.plugins.module_utils.postgres import (
    HAS_PSYCOPG2,
    connection_kwargs,
    describe_target,
    ensure_psycopg2,
    postgres_common_argument_spec,
)

if HAS_PSYCOPG2:
    import psycopg2
    import psycopg2.extensions


ADMIN_DB = "pgbouncer"


class AdminTimeout(Exception):
    """A statement on the admin console did not finish before its deadline."""


class AdminError(Exception):
    """PgBouncer answered with an error (or the connection broke)."""


ADMIN_PORT = 6432
# What PgBouncer answers to RESUME when nothing is paused: the wanted state, not an error.
NOT_PAUSED_MARKERS = ("not paused",)


def pgbouncer_common_argument_spec():
    """Options for reaching the admin console (the pgbouncer doc fragment): the PostgreSQL ones but the database."""
    spec = postgres_common_argument_spec(default_user="pgbouncer", default_port=ADMIN_PORT)
    del spec["login_db"]
    return spec


def admin_connection_kwargs(params):
    """psycopg2.connect() keyword arguments for the admin console (pure)."""
    return connection_kwargs(params, dbname=ADMIN_DB, default_port=ADMIN_PORT)


def is_not_paused_error(message):
    """Is PgBouncer's error only saying that nothing is paused? (pure)"""
    text = (message or "").lower()
    return any(marker in text for marker in NOT_PAUSED_MARKERS)


def rows_to_dicts(columns, rows):
    """Column names and row tuples -> list of dicts (pure)."""
    return [dict(zip(columns, row)) for row in rows]


def _wait(conn, deadline):
    """Drive an asynchronous psycopg2 connection until it is ready or the deadline passes."""
    while True:
        try:
            state = conn.poll()
        except psycopg2.Error as exc:
            raise AdminError(str(exc).strip()) from exc
        if state == psycopg2.extensions.POLL_OK:
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AdminTimeout()
        if state == psycopg2.extensions.POLL_READ:
            select.select([conn.fileno()], [], [], min(remaining, 1.0))
        elif state == psycopg2.extensions.POLL_WRITE:
            select.select([], [conn.fileno()], [], min(remaining, 1.0))
        else:  # pragma: no cover - psycopg2 documents only the states above
            raise AdminError(f"unexpected poll state {state!r}")


class AdminConsole:
    """A connection to the PgBouncer admin console where every statement has a deadline."""

    def __init__(self, params):
        self.params = params
        self.conn = None

    def describe(self):
        return describe_target(self.params, default_port=ADMIN_PORT)

    def open(self):
        timeout = self.params.get("connect_timeout") or 10
        try:
            self.conn = psycopg2.connect(async_=1, **admin_connection_kwargs(self.params))
        except psycopg2.Error as exc:
            raise AdminError(str(exc).strip()) from exc
        try:
            _wait(self.conn, time.monotonic() + timeout)
        except AdminTimeout:
            self.close()
            raise AdminError(f"no answer within connect_timeout={timeout} seconds") from None
        except AdminError:
            self.close()
            raise
        return self

    def run(self, sql, timeout):
        """Run one admin command; return (columns, rows). Raises AdminTimeout or AdminError."""
        cursor = self.conn.cursor()
        try:
            cursor.execute(sql)
        except psycopg2.Error as exc:
            raise AdminError(str(exc).strip()) from exc
        _wait(self.conn, time.monotonic() + timeout)
        if cursor.description is None:
            return [], []
        columns = [col[0] for col in cursor.description]
        return columns, cursor.fetchall()

    def query(self, sql, timeout):
        columns, rows = self.run(sql, timeout)
        return rows_to_dicts(columns, rows)

    def close(self):
        if self.conn is not None:
            with contextlib.suppress(psycopg2.Error):
                self.conn.close()
            self.conn = None


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
