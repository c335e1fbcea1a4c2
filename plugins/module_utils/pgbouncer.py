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

from ansible_collections.opsforge.webstack.plugins.module_utils.postgres import (
    DEFAULT_SOCKET_DIR,
    HAS_PSYCOPG2,
    ensure_psycopg2,
)

if HAS_PSYCOPG2:
    import psycopg2
    import psycopg2.extensions


ADMIN_DB = "pgbouncer"


class AdminTimeout(Exception):
    """A statement on the admin console did not finish before its deadline."""


class AdminError(Exception):
    """PgBouncer answered with an error (or the connection broke)."""


def pgbouncer_common_argument_spec():
    """Options for reaching the admin console (see the pgbouncer doc fragment)."""
    return {
        "login_user": {"type": "str", "default": "pgbouncer"},
        "login_password": {"type": "str", "default": "", "no_log": True},
        "login_host": {"type": "str", "default": DEFAULT_SOCKET_DIR},
        "login_port": {"type": "int", "default": 6432},
        "connect_timeout": {"type": "int", "default": 10},
    }


def admin_connection_kwargs(params):
    """psycopg2.connect() keyword arguments for the admin console (pure)."""
    kwargs = {
        "host": params.get("login_host") or DEFAULT_SOCKET_DIR,
        "port": params.get("login_port") or 6432,
        "user": params.get("login_user"),
        "dbname": ADMIN_DB,
        "connect_timeout": params.get("connect_timeout") or 10,
    }
    if params.get("login_password"):
        kwargs["password"] = params["login_password"]
    return kwargs


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
        return "{}@{}:{}".format(
            self.params.get("login_user"), self.params.get("login_host"), self.params.get("login_port")
        )

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
