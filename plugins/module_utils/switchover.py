# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The contract between the two halves of a switchover's critical section.

pgbouncer_switchover (on every PgBouncer host) first holds a connection to the old primary named
READY_PREFIX + its name and waits until every PgBouncer host of the switchover holds one (a barrier, so
that the pools pause together however far apart Ansible started the hosts); it then pauses its pools and
signals "paused" by renaming that connection to SIGNAL_PREFIX + its name. pg_switchover_promote
(on the target standby) promotes only once every expected signal is there, and only while the oldest
pause is young enough that no bouncer can have given up and resumed on the old primary:

    bouncer gives up at  pause_wait + pause age + ...      >= pause_timeout
    promoter promotes at pause age <= max_pause_age(...)   and takes at most promote_wait

so max_pause_age = pause_timeout - pause_wait - promote_wait - SAFETY_MARGIN keeps the promoter's last
possible moment at least SAFETY_MARGIN seconds before the first bouncer's deadline.

The restore drill's snapshot uses the same barrier and signals under names of its own (HOLD_READY_PREFIX,
HOLD_SIGNAL_PREFIX): pgbouncer_hold pauses, signals and waits on its connection to the primary until the primary's
side (pg_table_checksums with hold_bouncers) has fixed its snapshot and cancels those waits (release_holds), at
which moment every PgBouncer host resumes.

Everything here but CriticalSection and the barrier's wait is a plain function, so that the bounds can be unit tested
without hosts.
"""

import contextlib
import os
import re
import signal
import subprocess
import time

from ansible_collections.opsforge.webstack.plugins.module_utils.postgres import (
    SSL_MODES,
    ca_file_problem,
    elapsed_ms,
    fetch_all,
    login_params,
    poll_until,
    postgres_common_argument_spec,
    tls_error,
    tls_failure_hint,
)

SIGNAL_PREFIX = "webstack-switchover-paused:"
READY_PREFIX = "webstack-switchover-ready:"
HOLD_SIGNAL_PREFIX = "webstack-hold-paused:"
HOLD_READY_PREFIX = "webstack-hold-ready:"
# PostgreSQL keeps NAMEDATALEN - 1 = 63 bytes of application_name.
MAX_SIGNAL_NAME = 63 - len(SIGNAL_PREFIX)
SIGNAL_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
SAFETY_MARGIN = 2.0

# The age of a signal counts from its rename (the connection's last statement), that is from just after PAUSE.
SIGNALS_SQL = """
SELECT substr(application_name, %(offset)s) AS name,
       extract(epoch FROM clock_timestamp() - min(state_change))::float8 AS age
  FROM pg_stat_activity
 WHERE application_name LIKE %(pattern)s
 GROUP BY 1
"""

# Hosts at the barrier or past it (names never hold ':', see SIGNAL_NAME_RE).
PEERS_SQL = """
SELECT DISTINCT split_part(application_name, ':', 2)
  FROM pg_stat_activity
 WHERE application_name LIKE %(ready)s OR application_name LIKE %(paused)s
"""


def switchover_credentials_argument_spec():
    """The login both halves of a switchover use on the database hosts (the signal and the poll), and its TLS.

    switchover_ssl_mode and switchover_ca_cert have no default: unset, the module's ssl_mode and ca_cert apply
    (as they did before these options existed), see server_tls().
    """
    return {
        "switchover_user": {"type": "str", "required": True},
        "switchover_password": {"type": "str", "required": True, "no_log": True},
        "switchover_db": {"type": "str", "default": "postgres"},
        "switchover_ssl_mode": {"type": "str", "choices": SSL_MODES},
        "switchover_ca_cert": {"type": "str"},
    }


def server_tls(params):
    """The TLS of the connections to the database servers (pure).

    Returns {ssl_mode, ca_cert, mode_option, ca_option}: each value from switchover_ssl_mode / switchover_ca_cert,
    else from the login's ssl_mode / ca_cert; the *_option keys name where it came from, for messages (a CA that
    is missing altogether is asked for as switchover_ca_cert).
    """
    own_mode, own_ca = params.get("switchover_ssl_mode"), params.get("switchover_ca_cert")
    ca_from_login = not own_ca and bool(params.get("ca_cert"))
    return {
        "ssl_mode": own_mode or params.get("ssl_mode") or "prefer",
        "ca_cert": own_ca or params.get("ca_cert"),
        "mode_option": "switchover_ssl_mode" if own_mode else "ssl_mode",
        "ca_option": "ca_cert" if ca_from_login else "switchover_ca_cert",
    }


def server_tls_error(params, ca_problem=ca_file_problem):
    """An error text when the TLS of the connections to the database servers cannot work, else None.

    Pure but for ca_problem, which looks at the CA file (see postgres.tls_error).
    """
    tls = server_tls(params)
    return tls_error(tls["ssl_mode"], tls["ca_cert"], tls["mode_option"], tls["ca_option"], ca_problem)


def server_params(params, host, port, connect_timeout):
    """Module params for a connection to a database server of the switchover (pure).

    The switchover login on host:port, with the TLS of server_tls(); the client certificate options (ssl_cert,
    ssl_key) stay the login's, as before.
    """
    server = login_params(
        params,
        host,
        port,
        params["switchover_user"],
        params["switchover_password"],
        params["switchover_db"],
        connect_timeout=connect_timeout,
    )
    tls = server_tls(params)
    server.update(ssl_mode=tls["ssl_mode"], ca_cert=tls["ca_cert"])
    return server


def server_error_hint(params, error, host):
    """What to add to a failed connection to a database server when TLS refused it (pure)."""
    tls = server_tls(params)
    return tls_failure_hint(error, tls["ssl_mode"], tls["ca_cert"], host, tls["ca_option"])


def signal_application_name(name, prefix=SIGNAL_PREFIX):
    """The application_name a PgBouncer host holds on the old primary while it is paused (pure)."""
    return prefix + name


def ready_application_name(name, prefix=READY_PREFIX):
    """The application_name a PgBouncer host holds on the old primary while it waits at the barrier (pure)."""
    return prefix + name


def _like(prefix):
    return prefix.replace("_", r"\_") + "%"


def signals_query_args(prefix=SIGNAL_PREFIX):
    return {"offset": len(prefix) + 1, "pattern": _like(prefix)}


def peers_query_args(ready=READY_PREFIX, paused=SIGNAL_PREFIX):
    return {"ready": _like(ready), "paused": _like(paused)}


# The primary's side of a hold cancels the wait (pg_sleep) of every paused PgBouncer host: each one resumes at once.
# A cancel, not pg_terminate_backend(): the client then gets an error it can tell from a lost server.
RELEASE_HOLDS_SQL = """
SELECT count(*) FILTER (WHERE pg_cancel_backend(pid)) AS released
  FROM pg_stat_activity
 WHERE application_name LIKE %(pattern)s
"""
# The SQLSTATE of a cancelled statement (query_canceled); the PgBouncer side's statement_timeout ends after its wait.
QUERY_CANCELED = "57014"


def release_holds(conn):
    """Cancel every held PgBouncer host's wait (conn: the primary, a role that may signal them); how many."""
    return fetch_all(conn, RELEASE_HOLDS_SQL, {"pattern": _like(HOLD_SIGNAL_PREFIX)})[0]["released"]


def barrier_missing(peers, seen):
    """The peers not yet at the barrier (pure): peers is every PgBouncer host, seen the names found there."""
    return sorted(set(peers) - set(seen))


def peers_ready(conn, ready=READY_PREFIX, paused=SIGNAL_PREFIX):
    """Signal names at the barrier or past it, as seen on conn (the server the PgBouncer hosts signal on)."""
    cursor = conn.cursor()
    try:
        cursor.execute(PEERS_SQL, peers_query_args(ready, paused))
        return {row[0] for row in cursor.fetchall()}
    finally:
        cursor.close()


def wait_for_peers(conn, params, ready=READY_PREFIX, paused=SIGNAL_PREFIX):
    """Wait at the barrier (params: peers, barrier_timeout, poll_interval_ms); the peers still missing when it gave
    up (empty when all came)."""
    return poll_until(
        lambda: barrier_missing(params["peers"], peers_ready(conn, ready, paused)),
        lambda missing: not missing,
        time.monotonic() + params["barrier_timeout"],
        params["poll_interval_ms"] / 1000.0,
    )


def signal_name_error(name):
    """An error message when a name cannot be used in a signal, else None (pure)."""
    if not name or not SIGNAL_NAME_RE.match(name):
        return f"signal name {name!r} must be letters, digits, '.', '-' or '_' only"
    if len(name) > MAX_SIGNAL_NAME:
        return f"signal name {name!r} is longer than {MAX_SIGNAL_NAME} characters (application_name is cut at 63)"
    return None


def max_pause_age(pause_timeout, pause_wait, promote_wait, margin=SAFETY_MARGIN):
    """Oldest pause (seconds since the first signal) at which promoting is still safe (pure)."""
    return pause_timeout - pause_wait - promote_wait - margin


def bounds_error(pause_timeout, pause_wait, promote_wait=None, signal_timeout=None):
    """An error message when the time bounds cannot work together, else None (pure)."""
    for name, value in (
        ("pause_timeout", pause_timeout),
        ("pause_wait", pause_wait),
        ("promote_wait", promote_wait),
        ("signal_timeout", signal_timeout),
    ):
        if value is not None and value <= 0:
            return f"{name} must be positive (got {value})."
    if pause_wait >= pause_timeout:
        return f"pause_wait ({pause_wait} s) must be shorter than pause_timeout ({pause_timeout} s)."
    if promote_wait is not None:
        age = max_pause_age(pause_timeout, pause_wait, promote_wait)
        if age < 1:
            return (
                f"pause_timeout ({pause_timeout} s) leaves no time to promote: it must exceed pause_wait "
                f"({pause_wait} s) + promote_wait ({promote_wait} s) + a {SAFETY_MARGIN:g} s safety margin by "
                "at least 1 s."
            )
    return None


def critical_section_argument_spec():
    """The options pg_switchover_promote and pg_switchover_stop share: the local login, the switchover login and
    the critical section's (the doc fragment switchover.critical_section documents those that mean the same in
    both)."""
    return {
        **postgres_common_argument_spec(),
        **switchover_credentials_argument_spec(),
        "bouncers": {"type": "list", "elements": "str", "required": True},
        "signal_timeout": {"type": "float", "default": 10},
        "catchup_timeout": {"type": "float", "default": 3},
        "pause_timeout": {"type": "float", "default": 15},
        "pause_wait": {"type": "float", "default": 3},
        "promote_wait": {"type": "float", "default": 3},
        "poll_interval_ms": {"type": "int", "default": 20},
    }


def critical_section_params_error(params, positive):
    """The options both database-side modules check alike (bouncers, the polling, the time bounds and
    each option named in positive): an error message, else None (pure)."""
    if not params.get("bouncers"):
        return "bouncers must name at least one PgBouncer host."
    for name in params["bouncers"]:
        error = signal_name_error(name)
        if error:
            return f"bouncers: {error}."
    if len(set(params["bouncers"])) != len(params["bouncers"]):
        return "bouncers lists a name twice."
    for name in positive:
        if params.get(name) is not None and params[name] <= 0:
            return f"{name} must be positive (got {params[name]})."
    if not 1 <= params.get("poll_interval_ms", 20) <= 1000:
        return "poll_interval_ms must be between 1 and 1000."
    return bounds_error(params["pause_timeout"], params["pause_wait"], params["promote_wait"], params["signal_timeout"])


def signal_decision(expected, seen, pause_age_limit):
    """Decide from the signals seen on the old primary (pure).

    expected: names of every PgBouncer host; seen: {name: age in seconds of its signal connection}.
    Returns ("wait", missing) while some are missing, ("go", None) when all are there and the oldest is
    young enough, ("late", oldest age) when promoting now could race a bouncer giving up.
    """
    missing = sorted(set(expected) - set(seen))
    if missing:
        return "wait", missing
    ages = [seen[name] for name in expected]
    oldest = max(ages) if ages else 0.0
    if oldest > pause_age_limit:
        return "late", oldest
    return "go", None


def read_signals(conn, expected, pause_age_limit, prefix=SIGNAL_PREFIX):
    """The signals under prefix on conn ({name: age in seconds}) and what they decide (signal_decision)."""
    rows = fetch_all(conn, SIGNALS_SQL, signals_query_args(prefix))
    seen = {row["name"]: float(row["age"] or 0.0) for row in rows}
    return seen, signal_decision(expected, seen, pause_age_limit)


def wait_for_signals(conn, expected, pause_age_limit, deadline, interval, on_read, prefix=SIGNAL_PREFIX):
    """read_signals until every expected signal is there or the deadline passes; its last decision. on_read gets
    the signals of every read, so that a caller keeps the last ones seen when a read fails."""

    def read():
        seen, decision = read_signals(conn, expected, pause_age_limit, prefix)
        on_read(seen)
        return decision

    return poll_until(read, lambda decision: decision[0] != "wait", deadline, interval)


def caught_up(target_lsn, replay_lsn):
    """Has the standby replayed at least up to target_lsn? Both as integers; None is never caught up (pure)."""
    if target_lsn is None or replay_lsn is None:
        return False
    return replay_lsn >= target_lsn


# The restore_command of postgresql.auto.conf (ALTER SYSTEM), if any: the promotion puts it back as it was.
RESTORE_COMMAND_SQL = """
SELECT current_setting('restore_command') AS command,
       (SELECT setting FROM pg_file_settings
         WHERE name = 'restore_command' AND sourcefile LIKE '%/postgresql.auto.conf'
         ORDER BY seqno DESC LIMIT 1) AS auto_conf
"""


# restore_command is set aside when both the configuration files (the last postgresql.auto.conf entry wins) and the
# session's running value say so.
RESTORE_COMMAND_ASIDE_SQL = """
SELECT current_setting('restore_command') = ''
       AND coalesce((SELECT setting FROM pg_file_settings
                      WHERE name = 'restore_command' AND sourcefile LIKE '%/postgresql.auto.conf'
                      ORDER BY seqno DESC LIMIT 1), 'none') = '' AS aside
"""


def expand_restore_command(template, file_name, path):
    """restore_command with its placeholders filled in as PostgreSQL fills them (pure).

    %f is the file to fetch, %p where to put it, %r the oldest file to keep (unknown here: the first
    segment, which keeps everything), %% a percent sign; any other %x is left out, as PostgreSQL does.
    """
    values = {"f": file_name, "p": path, "r": "000000010000000000000001", "%": "%"}
    return re.sub(r"%(.?)", lambda match: values.get(match.group(1), ""), template)


def fetch_from_archive(command, timeout):
    """Run an expanded restore_command as PostgreSQL runs it (through the shell), at most timeout seconds: its exit
    status, or None when it did not end in time (then it and every process it started are killed)."""
    lookup = subprocess.Popen(
        command, shell=True, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        return lookup.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(lookup.pid, signal.SIGKILL)
        # A process stuck in the kernel (a hung mount) dies only when it leaves it: do not wait for it.
        with contextlib.suppress(subprocess.TimeoutExpired):
            lookup.wait(timeout=1)
        return None


def history_file_name(timeline):
    """The name of a timeline's history file in pg_wal and in the WAL archive (pure)."""
    return f"{timeline:08X}.history"


# Patroni's maintenance mode (pg_switchover_stop on the old primary, pg_switchover_promote with
# old_primary_stops on the target): once every PgBouncer host paused, the old primary is stopped (fast, so its
# walsenders hand the standby everything up to the shutdown checkpoint before it exits) and then tells the target
# so by naming a connection there STOPPED_PREFIX + the shutdown checkpoint's location. The target promotes only
# after it has replayed that record: nothing the old primary wrote is lost, and the old primary needs no rewind.
STOPPED_PREFIX = "webstack-switchover-stopped:"

STOPPED_SQL = """
SELECT substr(application_name, %(offset)s) AS lsn
  FROM pg_stat_activity
 WHERE application_name LIKE %(pattern)s
 LIMIT 1
"""


def stopped_application_name(lsn_text):
    """The application_name the stopped old primary holds on the target (pure)."""
    return STOPPED_PREFIX + lsn_text


def stopped_query_args():
    return {"offset": len(STOPPED_PREFIX) + 1, "pattern": _like(STOPPED_PREFIX)}


def controldata_fields(text):
    """pg_controldata's output as {field: value} (pure)."""
    fields = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip()] = value.strip()
    return fields


def shutdown_checkpoint(fields):
    """(the shutdown checkpoint's location, None) from pg_controldata's fields of a cleanly stopped primary, else
    (None, why not) (pure)."""
    state = fields.get("Database cluster state")
    if state != "shut down":
        return None, f"pg_controldata reports the cluster state {state!r}, not 'shut down'"
    location = fields.get("Latest checkpoint location", "")
    if not re.match(r"^[0-9A-F]+/[0-9A-F]+$", location):
        return None, f"pg_controldata reports no usable latest checkpoint location ({location!r})"
    return location, None


class CriticalSection:
    """What the database-side modules of the critical section share (pg_switchover_promote on the target,
    pg_switchover_stop on the old primary): the clock and the timings, the result, and the wait for every PgBouncer
    host's signal. A subclass says in refuse() what a refusal leaves behind."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.start = time.monotonic()
        self.interval = self.params["poll_interval_ms"] / 1000.0
        self.age_limit = max_pause_age(
            self.params["pause_timeout"], self.params["pause_wait"], self.params["promote_wait"]
        )
        self.timings = {}
        self.result = {"changed": False, "timings": self.timings, "signals": {}}

    def fail(self, msg, **extra):
        self.timings["total"] = elapsed_ms(self.start)
        self.module.fail_json(msg=msg, **extra, **self.result)

    def refuse(self, msg):
        raise NotImplementedError

    def succeed(self, msg):
        self.timings["total"] = elapsed_ms(self.start)
        self.module.exit_json(msg=msg, **self.result)

    def timed_poll(self, timing, probe, done, timeout, interval):
        """poll_until for at most timeout seconds from now, its time kept in timings[timing]; the last value."""
        phase = time.monotonic()
        value = poll_until(probe, done, phase + timeout, interval)
        self.timings[timing] = elapsed_ms(phase)
        return value

    def read_signals(self, conn):
        """The signals on conn (the old primary), and what they decide (signal_decision)."""
        self.result["signals"], decision = read_signals(conn, self.params["bouncers"], self.age_limit)
        return decision

    def check_signals(self, decision, detail):
        """Refuse unless every signal is there and the oldest is young enough; keep the oldest's age."""
        if decision == "wait":
            self.refuse(
                f"not every PgBouncer host signalled within {self.params['signal_timeout']:g} s (missing: "
                f"{', '.join(detail)}). They resume on the old primary by themselves."
            )
        if decision == "late":
            self.refuse(f"the oldest pause is {detail:.1f} s old, more than the {self.age_limit:g} s that are safe.")
        self.result["pause_age_ms"] = round(max(self.result["signals"].values()) * 1000)

    def wait_signals(self, conn):
        """Every PgBouncer host paused, recently enough (signals read on conn, the old primary)?"""
        decision, detail = wait_for_signals(
            conn,
            self.params["bouncers"],
            self.age_limit,
            self.start + self.params["signal_timeout"],
            self.interval,
            lambda seen: self.result.update(signals=seen),
        )
        self.timings["signals"] = elapsed_ms(self.start)
        self.check_signals(decision, detail)
