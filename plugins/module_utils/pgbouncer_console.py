# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The PgBouncer admin console, without Ansible: imports nothing but psycopg2.

The modules reach it through pgbouncer.py (their options, their failures); the pgbouncer role installs this file
beside its leader watcher (webstack_pgbouncer_follow.py, Patroni mode), which runs with no Ansible on the host.

The admin console speaks only the simple query protocol and has no transactions. Statements run on an
asynchronous psycopg2 connection so that every one of them has a deadline: PAUSE can block for as long as a
client keeps a server connection busy, and the caller must be able to give up.
"""

import contextlib
import select
import time
from typing import Any, Optional

try:
    import psycopg2
    import psycopg2.extensions

    HAS_PSYCOPG2 = True
except ImportError:  # pragma: no cover - exercised only where psycopg2 is missing
    psycopg2 = None
    HAS_PSYCOPG2 = False

ADMIN_DB = "pgbouncer"
# What PgBouncer answers to RESUME when nothing is paused: the wanted state, not an error.
NOT_PAUSED_MARKERS = ("not paused",)


class AdminTimeout(Exception):
    """A statement on the admin console did not finish before its deadline."""


class AdminError(Exception):
    """PgBouncer answered with an error (or the connection broke)."""


def is_not_paused_error(message: Optional[str]) -> bool:
    """Is PgBouncer's error only saying that nothing is paused? (pure)"""
    text = (message or "").lower()
    return any(marker in text for marker in NOT_PAUSED_MARKERS)


def rows_to_dicts(columns: list[str], rows: list[tuple]) -> list[dict[str, Any]]:
    """Column names and row tuples -> list of dicts (pure)."""
    return [dict(zip(columns, row)) for row in rows]


def _wait(conn: Any, deadline: float) -> None:
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


class Console:
    """A connection to the PgBouncer admin console where every statement has a deadline.

    kwargs are psycopg2.connect()'s (dbname is always the console's).
    """

    def __init__(self, kwargs: Optional[dict[str, Any]] = None, connect_timeout: float = 10) -> None:
        self.kwargs = kwargs or {}
        self.connect_timeout = connect_timeout
        self.conn: Any = None

    def connect_kwargs(self) -> dict[str, Any]:
        return {**self.kwargs, "dbname": ADMIN_DB}

    def open(self) -> "Console":
        try:
            self.conn = psycopg2.connect(async_=1, **self.connect_kwargs())
        except psycopg2.Error as exc:
            raise AdminError(str(exc).strip()) from exc
        try:
            _wait(self.conn, time.monotonic() + self.connect_timeout)
        except AdminTimeout:
            self.close()
            raise AdminError(f"no answer within connect_timeout={self.connect_timeout:g} seconds") from None
        except AdminError:
            self.close()
            raise
        return self

    def run(self, sql: str, timeout: float) -> tuple[list[str], list[tuple]]:
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

    def query(self, sql: str, timeout: float) -> list[dict[str, Any]]:
        columns, rows = self.run(sql, timeout)
        return rows_to_dicts(columns, rows)

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(psycopg2.Error):
                self.conn.close()
            self.conn = None
