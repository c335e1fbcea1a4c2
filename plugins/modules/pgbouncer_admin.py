#!/usr/bin/python
# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r"""
module: pgbouncer_admin
short_description: Run PAUSE, RESUME, RELOAD, RECONNECT or SHOW on the PgBouncer admin console
version_added: 0.1.0
description:
  - Connects to the PgBouncer admin console (the virtual database C(pgbouncer)) and runs one command.
  - O(command=pause) waits until every server connection is released, at most O(timeout) seconds. When the
    time runs out it issues RESUME, so that nothing is left paused, and fails.
  - O(command=pause) on a pooler or database that is already paused, and O(command=resume) on one that is not
    paused, report C(changed=false).
  - O(command=show) returns the rows of a C(SHOW) view as a list of dicts and never changes anything.
author:
  - opsforge developers (@opsforge)
attributes:
  check_mode:
    support: full
    description: Reports whether the command would change the pooler's state and runs nothing but C(SHOW).
extends_documentation_fragment:
  - opsforge.webstack.attributes
  - opsforge.webstack.pgbouncer
  - opsforge.webstack.postgres.tls
options:
  command:
    description:
      - The admin command to run.
      - V(pause) stops handing out server connections and waits for the busy ones to be released.
      - V(resume) undoes V(pause).
      - V(reload) re-reads the configuration file.
      - V(reconnect) closes each server connection once it is released, so that new ones pick up a changed
        host (for example after a switchover).
      - V(show) reads the view named by O(show).
    type: str
    required: true
    choices: [pause, resume, reload, reconnect, show]
  database:
    description:
      - Limit V(pause), V(resume) or V(reconnect) to this database as named in PgBouncer's C([databases]) section.
      - Not allowed with the other commands.
    type: str
  show:
    description:
      - The view to read with O(command=show). Required with O(command=show) and only allowed with it.
    type: str
    choices: [active_sockets, clients, config, databases, dns_hosts, dns_zones, fds, help, lists, mem, pools,
              servers, sockets, state, stats, stats_averages, stats_totals, totals, users, version]
  timeout:
    description:
      - Seconds every admin command may take. For V(pause) this is how long to wait for clients to finish
        their transactions before giving up, resuming and failing.
    type: int
    default: 30
notes:
  - Global pause state can be read before running the command only on PgBouncer 1.21 and later (C(SHOW STATE)).
    On older versions the module learns it from PgBouncer's answer, and check mode assumes a change.
seealso:
  - name: PgBouncer admin console
    description: Commands and views of the admin console.
    link: https://www.pgbouncer.org/usage.html#admin-console
"""

EXAMPLES = r"""
- name: Pause all pools before a switchover (fails and resumes after 10 seconds)
  opsforge.webstack.pgbouncer_admin:
    command: pause
    timeout: 10
    login_host: 127.0.0.1
    login_user: pgbouncer_admin
    login_password: "{{ pgbouncer_admin_password }}"
  register: __pause

- name: Point PgBouncer at the new primary and let traffic flow again
  opsforge.webstack.pgbouncer_admin:
    command: "{{ item }}"
    login_host: 127.0.0.1
    login_user: pgbouncer_admin
    login_password: "{{ pgbouncer_admin_password }}"
  loop: [reload, resume]

- name: Read pool usage
  opsforge.webstack.pgbouncer_admin:
    command: show
    show: pools
  register: __pools

- name: Pause one database only
  opsforge.webstack.pgbouncer_admin:
    command: pause
    database: shop
"""

RETURN = r"""
command:
  description: The admin command that was run (or would have been run in check mode).
  returned: always
  type: str
  sample: PAUSE shop
rows:
  description: The rows of the view, one dict per row, keyed by column name.
  returned: when O(command=show)
  type: list
  elements: dict
  sample: [{"database": "shop", "user": "app", "cl_active": 12, "cl_waiting": 0, "sv_active": 3,
            "pool_mode": "transaction"}]
elapsed_ms:
  description: Milliseconds the command took; for V(pause) how long it waited for server connections to be released.
  returned: when the command was run
  type: int
  sample: 143
paused:
  description: Whether the pooler (or O(database)) is paused after the module ran; null when it cannot be told.
  returned: when O(command) is V(pause) or V(resume)
  type: bool
  sample: true
msg:
  description: What the module did.
  returned: always
  type: str
  sample: PAUSE shop done in 143 ms
"""

import re
import time

from ansible_collections.opsforge.webstack.plugins.module_utils.pgbouncer import (
    AdminError,
    AdminTimeout,
    is_not_paused_error,
    open_admin_console,
    pgbouncer_common_argument_spec,
    resume,
    rows_to_dicts,
)
from ansible_collections.opsforge.webstack.plugins.module_utils.postgres import (
    elapsed_ms,
    new_module,
)

DATABASE_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_$.\-]*$")
ALREADY_PAUSED_MARKERS = ("already suspended/paused", "already paused")


def validate_request(command, database, show):
    """Return an error message for a request that makes no sense, else None (pure)."""
    if command == "show" and not show:
        return "command=show needs the view to read in 'show' (for example show=pools)."
    if command != "show" and show:
        return f"'show' is only allowed with command=show (got command={command})."
    if database is not None:
        if command not in ("pause", "resume", "reconnect"):
            return f"'database' is only allowed with command pause, resume or reconnect (got command={command})."
        if not DATABASE_NAME_RE.match(database):
            return (
                f"database {database!r} is not a plain PgBouncer database name (letters, digits, _ $ . - only); "
                "the admin console cannot take it."
            )
    return None


def build_statement(command, database=None, show=None):
    """The admin console statement for a request (pure)."""
    if command == "show":
        return f"SHOW {show.upper()}"
    statement = command.upper()
    if database:
        statement += " " + database
    return statement


def database_paused(database_rows, database):
    """Paused flag of one database from SHOW DATABASES rows: True, False, or None when it is not listed."""
    for row in database_rows:
        if row.get("name") == database:
            return str(row.get("paused", "0")).strip() in ("1", "t", "true", "yes")
    return None


def state_paused(state_rows):
    """Global paused flag from SHOW STATE rows (PgBouncer >= 1.21); None when unknown."""
    for row in state_rows:
        values = list(row.values())
        if len(values) >= 2 and str(values[0]).strip().lower() == "paused":
            return str(values[1]).strip().lower() in ("yes", "1", "true", "t")
        if "paused" in row:
            return str(row["paused"]).strip().lower() in ("yes", "1", "true", "t")
    return None


def would_change(command, paused):
    """Does the command change anything, given the current paused state (None = unknown)? (pure)"""
    if command == "show":
        return False
    if command == "pause":
        return paused is not True
    if command == "resume":
        return paused is not False
    return True


def is_noop_error(command, message):
    """Is PgBouncer's error only saying that the pause/resume was already in effect? (pure)"""
    text = (message or "").lower()
    if command == "pause":
        return any(marker in text for marker in ALREADY_PAUSED_MARKERS)
    if command == "resume":
        return is_not_paused_error(text)
    return False


def read_paused(console, database, timeout):
    """Current paused state of the pooler or one database; None when PgBouncer cannot tell us."""
    if database:
        rows = console.query("SHOW DATABASES", timeout)
        return database_paused(rows, database), rows
    try:
        rows = console.query("SHOW STATE", timeout)
    except AdminError:
        return None, None  # PgBouncer before 1.21 has no SHOW STATE
    return state_paused(rows), None


def main():
    argument_spec = pgbouncer_common_argument_spec()
    argument_spec.update(
        command={"type": "str", "required": True, "choices": ["pause", "resume", "reload", "reconnect", "show"]},
        database={"type": "str"},
        show={
            "type": "str",
            "choices": [
                "active_sockets",
                "clients",
                "config",
                "databases",
                "dns_hosts",
                "dns_zones",
                "fds",
                "help",
                "lists",
                "mem",
                "pools",
                "servers",
                "sockets",
                "state",
                "stats",
                "stats_averages",
                "stats_totals",
                "totals",
                "users",
                "version",
            ],
        },
        timeout={"type": "int", "default": 30},
    )
    module = new_module(argument_spec, required_if=[("command", "show", ("show",))])
    params = module.params
    command, database, show, timeout = params["command"], params["database"], params["show"], params["timeout"]

    error = validate_request(command, database, show)
    if error:
        module.fail_json(msg=error)
    if timeout < 1:
        module.fail_json(msg=f"timeout must be at least 1 second (got {timeout}).")

    statement = build_statement(command, database, show)
    result = {"changed": False, "command": statement}
    console = open_admin_console(module)
    target = console.describe()
    try:
        if command == "show":
            start = time.monotonic()
            try:
                columns, rows = console.run(statement, timeout)
            except (AdminError, AdminTimeout) as exc:
                module.fail_json(
                    msg="{} on PgBouncer {} failed: {}".format(statement, target, exc or "timed out"), **result
                )
            result.update(
                rows=rows_to_dicts(columns, rows),
                elapsed_ms=elapsed_ms(start),
                msg=f"{statement} returned {len(rows)} rows",
            )
            module.exit_json(**result)

        paused = None
        if command in ("pause", "resume"):
            paused, db_rows = read_paused(console, database, timeout)
            if database and db_rows is not None and paused is None:
                names = ", ".join(sorted(str(row.get("name")) for row in db_rows))
                module.fail_json(
                    msg=f"Database {database!r} is not configured in PgBouncer {target} (known: {names}). "
                    "Use a name from its [databases] section.",
                    **result,
                )
            result["paused"] = paused

        if not would_change(command, paused):
            result["msg"] = "{}: nothing to do, {} is already {}".format(
                statement,
                database or "the pooler",
                "paused" if paused else "running",
            )
            module.exit_json(**result)

        if module.check_mode:
            result.update(changed=True, msg=f"would run {statement}")
            if command in ("pause", "resume"):
                result["paused"] = command == "pause"
            module.exit_json(**result)

        start = time.monotonic()
        try:
            console.run(statement, timeout)
        except AdminTimeout:
            console.close()
            resume_error = (
                resume(params, min(timeout, 10), build_statement("resume", database)) if command == "pause" else None
            )
            if command == "pause":
                after = "RESUME was issued, so nothing is left paused."
                if resume_error:
                    after = f"RESUME failed too ({resume_error}): the pooler may be left paused, run command=resume."
                module.fail_json(
                    msg=f"{statement} on PgBouncer {target} did not finish within {timeout} seconds: "
                    f"clients still hold server connections in open transactions. {after} "
                    "Retry when the load is lower or raise timeout.",
                    **result,
                )
            module.fail_json(
                msg=f"{statement} on PgBouncer {target} did not answer within {timeout} seconds.", **result
            )
        except AdminError as exc:
            if is_noop_error(command, str(exc)):
                result.update(paused=command == "pause", msg=f"{statement}: nothing to do ({exc})")
                module.exit_json(**result)
            module.fail_json(msg=f"{statement} on PgBouncer {target} failed: {exc}", **result)

        result.update(changed=True, elapsed_ms=elapsed_ms(start))
        result["msg"] = f"{statement} done in {result['elapsed_ms']} ms"
        if command in ("pause", "resume"):
            result["paused"] = command == "pause"
        module.exit_json(**result)
    finally:
        console.close()


if __name__ == "__main__":
    main()
