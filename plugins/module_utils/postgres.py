# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Shared helpers for the opsforge.webstack PostgreSQL modules.

Everything that does not need a connection (conninfo parsing and quoting,
pg_controldata parsing, timeline history checks) is a plain function so that
it can be unit tested without a database; LSN arithmetic is in lsn.py.
"""

import contextlib
import os
import pwd
import re
import time
import traceback
from typing import Any, Callable, Optional, TypeVar

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.opsforge.webstack.plugins.module_utils.lsn import (
    is_valid_lsn,
    parse_lsn,
    timeline_from_walfile,
)

PSYCOPG2_IMP_ERR = None
try:
    import psycopg2
    import psycopg2.extras

    HAS_PSYCOPG2 = True
except ImportError:  # pragma: no cover - exercised only where psycopg2 is missing
    psycopg2 = None
    PSYCOPG2_IMP_ERR = traceback.format_exc()
    HAS_PSYCOPG2 = False


T = TypeVar("T")
Params = dict[str, Any]

DEFAULT_SOCKET_DIR = "/var/run/postgresql"
# Used when a password has to be shown (check mode, error messages).
MASK = "********"


# libpq's sslmode values, as community.postgresql offers them.
SSL_MODES = ["allow", "disable", "prefer", "require", "verify-ca", "verify-full"]
# The sslmodes that check the server's certificate against a CA file (verify-full also its name).
VERIFYING_SSL_MODES = ("verify-ca", "verify-full")
# Where the collection's roles install the CA of PostgreSQL's certificates, for the messages.
CA_FILES_HINT = (
    "the postgresql role installs it on the members as /etc/postgresql/VERSION/CLUSTER/tls/ca.crt, "
    "the pgbouncer role on the PgBouncer hosts as /etc/pgbouncer/server-ca.crt"
)


def postgres_common_argument_spec(default_user="postgres", default_port=5432):
    """Options every module that connects to PostgreSQL or PgBouncer accepts (the postgres doc fragment).

    The names are community.postgresql's (login_*, login_unix_socket, ssl_mode, ca_cert, ssl_cert, ssl_key),
    so that one module_defaults block serves both collections. Its own postgres_common_argument_spec() is not
    reused: it takes its defaults from PGUSER/PGPORT in the environment of the managed host and brings its
    psycopg version handling, and the modules here must behave the same wherever they run.
    """
    return {
        "login_user": {"type": "str", "default": default_user},
        "login_password": {"type": "str", "default": "", "no_log": True},
        "login_host": {"type": "str", "default": ""},
        "login_unix_socket": {"type": "str", "default": ""},
        "login_port": {"type": "int", "default": default_port, "aliases": ["port"]},
        "login_db": {"type": "str", "default": "postgres"},
        "connect_timeout": {"type": "int", "default": 10},
        "ssl_mode": {"type": "str", "default": "prefer", "choices": SSL_MODES},
        "ca_cert": {"type": "str", "aliases": ["ssl_rootcert"]},
        "ssl_cert": {"type": "path"},
        "ssl_key": {"type": "path"},
    }


def new_module(argument_spec, validate=None, **kwargs):
    """The AnsibleModule of a module that supports check mode; validate(params) returns an error text or None."""
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, **kwargs)
    error = validate(module.params) if validate else None
    if error:
        module.fail_json(msg=error)
    return module


def ensure_psycopg2(module):
    """Fail the module with the standard message when psycopg2 is not importable."""
    if not HAS_PSYCOPG2:
        module.fail_json(msg=missing_required_lib("psycopg2"), exception=PSYCOPG2_IMP_ERR)


def server_host(params: Params) -> str:
    """Where to connect: login_host, or the unix socket directory when the host is empty or localhost (pure).

    As in community.postgresql, login_unix_socket wins over login_host=localhost.
    """
    host = params.get("login_host") or ""
    socket_dir = params.get("login_unix_socket") or ""
    if host and not (host == "localhost" and socket_dir):
        return host
    return socket_dir or DEFAULT_SOCKET_DIR


def connection_kwargs(params: Params, dbname: Optional[str] = None, default_port: int = 5432) -> Params:
    """Build psycopg2.connect() keyword arguments from module params (pure).

    The one builder for every connection the modules open; TLS options are passed only when set.
    """
    kwargs = {
        "host": server_host(params),
        "port": params.get("login_port") or default_port,
        "user": params.get("login_user"),
        "dbname": dbname or params.get("login_db") or "postgres",
        "connect_timeout": params.get("connect_timeout") or 10,
    }
    tls = {"sslmode": "ssl_mode", "sslrootcert": "ca_cert", "sslcert": "ssl_cert", "sslkey": "ssl_key"}
    kwargs.update({key: params[option] for key, option in tls.items() if params.get(option)})
    if params.get("login_password"):
        kwargs["password"] = params["login_password"]
    return kwargs


def login_params(
    params: Params,
    host: str,
    port: int,
    user: str,
    password: Optional[str],
    dbname: str = "postgres",
    connect_timeout: Optional[int] = None,
) -> Params:
    """Module params for another server reached with other credentials, keeping the TLS options (pure)."""
    return {
        **params,
        "login_host": host,
        "login_unix_socket": "",
        "login_port": port,
        "login_user": user,
        "login_password": password,
        "login_db": dbname,
        "connect_timeout": connect_timeout or params.get("connect_timeout"),
    }


def ca_file_problem(path: str) -> Optional[str]:
    """Why this process cannot read path as a CA file, or None when it can (looks at the file system)."""
    if path == "system":  # libpq 16 and later: the operating system's trusted CAs
        return None
    if not os.path.exists(path):
        return "does not exist"
    if not os.path.isfile(path):
        return "is not a file"
    if not os.access(path, os.R_OK):
        return f"is not readable by the user the module runs as ({pwd.getpwuid(os.geteuid()).pw_name})"
    return None


def tls_error(
    ssl_mode: Optional[str],
    ca_cert: Optional[str],
    mode_option: str = "ssl_mode",
    ca_option: str = "ca_cert",
    ca_problem: Callable[[str], Optional[str]] = ca_file_problem,
) -> Optional[str]:
    """An error text when a verifying sslmode has no CA file it can read, else None.

    mode_option and ca_option name the options the two values came from, for the message; ca_problem(path)
    says why a file cannot be read (ca_file_problem by default), so that this is pure for the unit tests.
    Checked before any connection: libpq's own message comes only at connect time, and names neither option.
    """
    if ssl_mode not in VERIFYING_SSL_MODES:
        return None
    if not ca_cert:
        return (
            f"{mode_option}={ssl_mode} checks the servers' certificates against a CA, but {ca_option} is not set. "
            f"Set {ca_option} to the file of the CA that signed them on this host ({CA_FILES_HINT}), or choose a "
            f"{mode_option} that does not verify. Nothing was changed."
        )
    problem = ca_problem(ca_cert)
    if problem:
        return (
            f"{ca_option} {ca_cert} {problem}, and {mode_option}={ssl_mode} needs it to check the servers' "
            f"certificates. Point {ca_option} at the CA file on this host ({CA_FILES_HINT}). Nothing was changed."
        )
    return None


def tls_failure_hint(
    error: Optional[str], ssl_mode: Optional[str], ca_cert: Optional[str], host: str, ca_option: str = "ca_cert"
) -> str:
    """A sentence to add to a connection error that came from TLS, else an empty string (pure)."""
    text = error or ""
    if "certificate" not in text and "SSL" not in text:
        return ""
    if ssl_mode in VERIFYING_SSL_MODES:
        name = f" and name the address connected to ({host})" if ssl_mode == "verify-full" else ""
        return (
            f" TLS ({ssl_mode}) refused the server: its certificate must be signed by the CA in {ca_option} "
            f"({ca_cert}){name}; the collection's certificates name each host's private address."
        )
    return f" TLS ({ssl_mode}) failed: check that the server speaks TLS and that pg_hba.conf allows it ({host})."


def describe_target(params, default_port=5432):
    """Human readable 'user@host:port' for messages, never with the password."""
    return "{}@{}:{}".format(params.get("login_user"), server_host(params), params.get("login_port") or default_port)


def try_connect(params, dbname=None, autocommit=True):
    """Connect; return (connection, None) or (None, error text). Never raises for connection errors."""
    try:
        conn = psycopg2.connect(**connection_kwargs(params, dbname))
    except psycopg2.Error as exc:
        return None, str(exc).strip()
    conn.autocommit = autocommit
    return conn, None


def connect(module, params=None, dbname=None, autocommit=True):
    """Connect to PostgreSQL or fail the module with a message naming the target."""
    ensure_psycopg2(module)
    params = params if params is not None else module.params
    conn, err = try_connect(params, dbname=dbname, autocommit=autocommit)
    if conn is None:
        module.fail_json(
            msg=f"Could not connect to PostgreSQL as {describe_target(params)}: {err}. "
            "Check login_host/login_port/login_user/login_password and that the server is running "
            "and pg_hba.conf allows this client."
        )
    return conn


@contextlib.contextmanager
def failing_on_db_error(module, conn, action, hint):
    """Close conn at the end; a PostgreSQL error fails the module with what was tried, the cause and a hint."""
    try:
        yield conn
    except psycopg2.Error as exc:
        module.fail_json(msg=f"{action} failed: {str(exc).strip()}. {hint}", exception=traceback.format_exc())
    finally:
        conn.close()


def poll_new_connections(
    params: Params,
    look: Callable[[Any], tuple[Optional[T], Optional[str]]],
    deadline: float,
    interval: float,
    connect_error: str,
    query_error: str,
) -> tuple[Optional[T], Optional[str]]:
    """Poll with a new connection each time until look(conn) returns (value, None); return (value, last seen).

    look returns (value, None) when done, or (None, what it saw). A failed connection or query is what was
    seen too, under the connect_error / query_error label, so the caller can tell the user the last state.
    """

    def attempt():
        conn, err = try_connect(params)
        if conn is None:
            return None, f"{connect_error}: {err}"
        try:
            return look(conn)
        except psycopg2.Error as exc:
            return None, f"{query_error}: {str(exc).strip()}"
        finally:
            conn.close()

    return poll_until(attempt, lambda seen: seen[1] is None, deadline, interval)


def fetch_all(conn, sql, args=None):
    """Run a query and return a list of dicts (column name -> value)."""
    cursor = conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor)
    try:
        cursor.execute(sql, args)
        if cursor.description is None:
            return []
        return [dict(row) for row in cursor.fetchall()]
    finally:
        cursor.close()


def fetch_one(conn, sql, args=None):
    rows = fetch_all(conn, sql, args)
    return rows[0] if rows else None


# --------------------------------------------------------------------------
# conninfo helpers (libpq keyword/value strings)
# --------------------------------------------------------------------------


def quote_conninfo_value(value):
    """Quote a value for a libpq keyword/value conninfo string."""
    text = str(value)
    if text and not re.search(r"[\s'\\]", text):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def build_conninfo(pairs):
    """Ordered mapping or list of (key, value) -> conninfo text; None/empty values are left out."""
    items = pairs.items() if isinstance(pairs, dict) else pairs
    return " ".join(f"{key}={quote_conninfo_value(val)}" for key, val in items if val not in (None, ""))


def parse_conninfo(text):
    """Parse a libpq keyword/value conninfo string into a dict. Raises ValueError on malformed input."""
    result = {}
    if not text:
        return result
    pos = 0
    length = len(text)
    while pos < length:
        while pos < length and text[pos].isspace():
            pos += 1
        if pos >= length:
            break
        eq = text.find("=", pos)
        if eq < 0:
            raise ValueError(f"missing '=' after {text[pos:]!r} in conninfo")
        key = text[pos:eq].strip()
        pos = eq + 1
        while pos < length and text[pos].isspace():
            pos += 1
        value_chars = []
        if pos < length and text[pos] == "'":
            pos += 1
            closed = False
            while pos < length:
                char = text[pos]
                if char == "\\" and pos + 1 < length:
                    value_chars.append(text[pos + 1])
                    pos += 2
                    continue
                if char == "'":
                    pos += 1
                    closed = True
                    break
                value_chars.append(char)
                pos += 1
            if not closed:
                raise ValueError(f"unterminated quoted value for {key!r} in conninfo")
        else:
            while pos < length and not text[pos].isspace():
                char = text[pos]
                if char == "\\" and pos + 1 < length:
                    value_chars.append(text[pos + 1])
                    pos += 2
                    continue
                value_chars.append(char)
                pos += 1
        result[key] = "".join(value_chars)
    return result


def strip_conninfo_password(text):
    """Return the conninfo without its password (for output). Unparseable text is hidden entirely."""
    if text is None:
        return None
    try:
        parsed = parse_conninfo(text)
    except ValueError:
        return "<unparseable conninfo hidden>"
    parsed.pop("password", None)
    return build_conninfo(parsed)


def mask_secrets(text, secrets):
    """Replace every non-empty secret in text by MASK."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


# --------------------------------------------------------------------------
# pg_controldata and timeline history
# --------------------------------------------------------------------------


def parse_controldata(text):
    """Parse `pg_controldata` output into a dict with the fields the modules use."""
    raw = {}
    for line in text.splitlines():
        if ":" not in line:
            continue
        key, value = line.split(":", 1)
        raw[key.strip()] = value.strip()
    result = {"raw": raw}
    result["system_identifier"] = raw.get("Database system identifier")
    result["state"] = raw.get("Database cluster state")
    tli = raw.get("Latest checkpoint's TimeLineID")
    result["timeline"] = int(tli) if tli and tli.isdigit() else None
    checkpoint = raw.get("Latest checkpoint location")
    result["checkpoint_lsn"] = checkpoint if checkpoint and is_valid_lsn(checkpoint) else None
    min_recovery = raw.get("Minimum recovery ending location")
    result["min_recovery_lsn"] = min_recovery if min_recovery and is_valid_lsn(min_recovery) else None
    return result


def parse_timeline_history(text):
    """Parse a timeline history file into a list of (timeline, switch LSN as int), oldest first."""
    entries = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) < 2 or not fields[0].isdigit() or not is_valid_lsn(fields[1]):
            continue
        entries.append((int(fields[0]), parse_lsn(fields[1])))
    return entries


def timeline_diverged(local_tli, local_lsn, source_tli, source_history):
    """Has the local node's WAL left the source's history?

    local_tli / local_lsn: the timeline and WAL position the local data has reached.
    source_tli: the source (primary) current timeline. source_history: its history
    file text for source_tli (empty for timeline 1).

    Returns True when the local node cannot simply follow the source: it is on a
    timeline the source never had, on a newer one, or it went past the point where
    the source switched away from the local timeline.
    """
    if local_tli is None or source_tli is None:
        return False
    if local_tli == source_tli:
        return False
    if local_tli > source_tli:
        return True
    switch_points = dict(parse_timeline_history(source_history))
    if local_tli not in switch_points:
        return True
    if local_lsn is None:
        return False
    return parse_lsn(local_lsn) > switch_points[local_tli]


# --------------------------------------------------------------------------
# queries shared by several modules
# --------------------------------------------------------------------------


def current_timeline(conn, in_recovery):
    """Timeline the server is on now (primary: current WAL file; standby: received or checkpoint TLI)."""
    if not in_recovery:
        row = fetch_one(conn, "SELECT pg_walfile_name(pg_current_wal_lsn()) AS walfile")
        return timeline_from_walfile(row["walfile"])
    row = fetch_one(conn, "SELECT received_tli FROM pg_stat_wal_receiver")
    if row and row.get("received_tli"):
        return int(row["received_tli"])
    row = fetch_one(conn, "SELECT timeline_id FROM pg_control_checkpoint()")
    return int(row["timeline_id"]) if row and row.get("timeline_id") is not None else None


def elapsed_ms(start):
    return round((time.monotonic() - start) * 1000)


def poll_until(probe: Callable[[], T], done: Callable[[T], bool], deadline: float, interval: float) -> T:
    """Call probe() until done(its value) or the deadline (a time.monotonic() value) passes; return the last value.

    The probe always runs at least once, and once more after the last sleep, so a deadline in the past
    still gives one look.
    """
    while True:
        value = probe()
        if done(value) or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


PROMOTION_ASLEEP_SQL = (
    "SELECT count(*) > 0 AS asleep FROM pg_stat_activity "
    "WHERE backend_type = 'startup' AND wait_event = 'RecoveryRetrieveRetryInterval'"
)


class PromotionWatch:
    """Watches a server that was asked to promote, and wakes its promotion when it sleeps for nothing.

    A standby whose WAL stream failed within the last wal_retrieve_retry_interval (5 s by default: its primary
    stopped or was lost) and that takes the promote request while its next WAL receiver is asked for but not started
    spends the request's wake-up on leaving the stream, then sleeps out the rest of that interval before it ends
    recovery (PostgreSQL 17: a 3 s promotion after a crash, ended by an unrelated reload). A reload sets the latch
    that the startup process sleeps on and changes nothing when no configuration file changed. The sleep is looked
    for at most every LOOK_EVERY seconds, so that a promotion that goes its normal way (tens of milliseconds, the
    switchover's PgBouncer pause waiting on it) costs one look, and a stuck one at most that long.
    """

    LOOK_EVERY = 0.25

    def __init__(self, conn: Any):
        self.conn = conn
        self.woken = 0
        self.last_look = float("-inf")

    def left_recovery(self) -> bool:
        return self.done_or_woken(not fetch_one(self.conn, "SELECT pg_is_in_recovery() AS r")["r"])

    def accepts_writes(self) -> bool:
        return self.done_or_woken(accepts_writes(self.conn))

    def done_or_woken(self, done: bool) -> bool:
        now = time.monotonic()
        if done or now - self.last_look < self.LOOK_EVERY:
            return done
        self.last_look = now
        if fetch_one(self.conn, PROMOTION_ASLEEP_SQL)["asleep"]:
            fetch_one(self.conn, "SELECT pg_reload_conf()")
            self.woken += 1
        return False


def accepts_writes(conn: Any) -> bool:
    """Does the server accept writes now: out of recovery, read-write, and able to assign a transaction ID?

    pg_is_in_recovery() alone is not enough: it turns false before a promoted server takes writes from every
    session, and a server fenced with default_transaction_read_only=on is out of recovery yet refuses writes.
    Assigning a transaction ID (rolled back at once, nothing is written) is what a client's first write needs,
    so it is the proof; the cheap first query keeps the common "still a standby" answer to one round trip.
    """
    row = fetch_one(conn, "SELECT pg_is_in_recovery() AS in_recovery, current_setting('transaction_read_only') AS ro")
    if row["in_recovery"] or row["ro"] == "on":
        return False
    autocommit = conn.autocommit
    conn.autocommit = False
    try:
        fetch_one(conn, "SELECT pg_current_xact_id()::text AS xid")
    finally:
        conn.rollback()
        conn.autocommit = autocommit
    return True
