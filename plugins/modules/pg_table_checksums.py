#!/usr/bin/python
# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r"""
module: pg_table_checksums
short_description: Row counts and content checksums of every table in one snapshot, a restore point, a comparison
version_added: 0.1.0
description:
  - Opens one C(REPEATABLE READ) transaction per database, all before anything else, so that every table is read
    in the same snapshot of the cluster, and returns each table's row count and a checksum of its content that does
    not depend on row order (md5 of every row's text, summed exactly).
  - With O(restore_point), creates that named restore point (C(pg_create_restore_point())) right after the
    snapshots are taken, and reports whether any transaction ended between the snapshots and the restore point
    (RV(snapshot.transactions_in_window)). With the writers paused (PgBouncer PAUSE) that is 0, and a copy
    restored to the restore point must hold exactly these checksums.
  - With O(ready_file), writes that file on the host once the snapshots are taken and the restore point exists,
    before the tables are read, so that a caller running this module asynchronously can resume the writers
    while the checksums are computed.
  - With O(hold_bouncers), the writers are paused by the module's other half,
    M(opsforge.webstack.pgbouncer_hold), on every PgBouncer host; this module waits until each of them signals on
    this server that it paused, takes the snapshots and the restore point, and then releases them all at once
    (it cancels their waits), before the tables are read. The pause lasts from the last PAUSE to that
    release, milliseconds with no Ansible task in between. When a host does not signal within
    O(hold_signal_timeout) seconds, the module releases the others and fails before any snapshot or restore point.
  - With O(compare_to), compares the tables with those of an earlier run (for example the source's, read on a
    restored copy) and reports every table that is missing, extra, or holds other rows.
  - Unlogged tables are listed in RV(unlogged_tables) and never checksummed, because recovery empties them.
author:
  - opsforge developers (@opsforge)
attributes:
  check_mode:
    support: full
    description: Reads the checksums (reading changes nothing) but creates no restore point and writes no file.
extends_documentation_fragment:
  - opsforge.webstack.attributes
  - opsforge.webstack.postgres
  - opsforge.webstack.postgres.tls
options:
  databases:
    description:
      - The databases to read. Empty reads every database that accepts connections and is not a template.
    type: list
    elements: str
    default: []
  restore_point:
    description:
      - Name of a restore point to create in the same snapshot. Needs a primary and a superuser (or a role
        granted C(pg_create_restore_point)).
    type: str
  switch_wal:
    description:
      - With O(restore_point), switch to a new WAL segment right after creating it, so that the segment holding
        the restore point is archived now rather than after C(archive_timeout). A restore can only reach a restore
        point whose WAL is in the archive. RV(restore_point.wal_file) names that segment.
    type: bool
    default: false
  ready_file:
    description:
      - A file written (JSON with the restore point) once the snapshot is fixed and the restore point created.
      - An existing file is replaced.
    type: path
  compare_to:
    description:
      - The RV(tables) of an earlier run to compare with.
    type: dict
  hold_bouncers:
    description:
      - The signal names (usually inventory hostnames) of every PgBouncer host that holds its pools paused with
        M(opsforge.webstack.pgbouncer_hold) for this snapshot; see the description. Empty holds nothing.
      - Needs a login that may cancel other sessions' queries (a superuser, or a role granted
        C(pg_signal_backend)).
    type: list
    elements: str
    default: []
  hold_timeout:
    description:
      - The O(opsforge.webstack.pgbouncer_hold#module:hold_timeout) the PgBouncer hosts use. The module acts only
        while the oldest pause is at least 2 seconds short of it, and fails otherwise.
    type: float
    default: 10
  hold_signal_timeout:
    description: Seconds from the start of the module to wait for every host of O(hold_bouncers) to signal.
    type: float
    default: 20
requirements:
  - psycopg2
seealso:
  - module: opsforge.webstack.pgbackrest_info
  - name: pg_create_restore_point
    description: Named restore points, a recovery target of pgBackRest's C(--type=name).
    link: https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-ADMIN-BACKUP
"""

EXAMPLES = r"""
- name: Record the source's tables and a restore point in one snapshot
  opsforge.webstack.pg_table_checksums:
    databases: [shop]
    restore_point: drill-20261203T103000Z
    switch_wal: true
  become: true
  become_user: postgres
  register: __source

- name: Compare a restored copy with them
  opsforge.webstack.pg_table_checksums:
    databases: [shop]
    compare_to: "{{ __source.tables }}"
  become: true
  become_user: postgres
  register: __copy
  failed_when: not __copy.comparison.equal
"""

RETURN = r"""
tables:
  description: Per database, per C(schema.table), the row count and the content checksum.
  returned: always
  type: dict
  sample: {"shop": {"public.orders": {"rows": 1200, "checksum": "4f1c2a6b0e1d7f3a9c8b2e5d6a7f8e9d"}}}
unlogged_tables:
  description: Per database, the unlogged tables that were not read (a restore brings them back empty).
  returned: always
  type: dict
  sample: {"shop": ["public.sessions"]}
table_count:
  description: How many tables were read.
  returned: always
  type: int
  sample: 12
row_count:
  description: How many rows they hold in total.
  returned: always
  type: int
  sample: 1200
restore_point:
  description: The restore point created (name, LSN and the server's time); null without O(restore_point).
  returned: always
  type: dict
  contains:
    name:
      description: The restore point's name, the recovery target of pgBackRest's C(--type=name).
      type: str
    lsn:
      description: Where the restore point was written.
      type: str
    time:
      description: The server's clock when it was written.
      type: str
    wal_file:
      description: The WAL segment holding it (archived soon after with O(switch_wal)).
      type: str
  sample: {"name": "drill-20261203T103000Z", "lsn": "0/5A000090", "time": "2026-12-03 10:30:00.123456+00",
           "wal_file": "00000001000000000000005A"}
snapshot:
  description:
    - The snapshot every database was read in (C(pg_current_snapshot())), the cluster's snapshot after the restore
      point, and how many transactions ended in between (0 when the restore point holds exactly what was read).
  returned: always
  type: dict
  contains:
    before:
      description: C(pg_current_snapshot()) of the transactions the tables were read in.
      type: str
    after:
      description: C(pg_current_snapshot()) right after the restore point.
      type: str
    transactions_in_window:
      description: Transactions that ended between the two (0 when the restore point holds exactly what was read).
      type: int
  sample: {"before": "7501:7501:", "after": "7501:7501:", "transactions_in_window": 0}
server:
  description: The server read (version, system identifier, in recovery, the size of the databases read).
  returned: always
  type: dict
  sample: {"version": "15.8 (Debian 15.8-0+deb12u1)", "system_identifier": "7301234567890123456",
           "in_recovery": false, "databases_size_bytes": 31457280}
comparison:
  description: With O(compare_to), whether everything is equal, how many tables were compared and the differences.
  returned: when O(compare_to) is given
  type: dict
  sample: {"equal": false, "compared": 12, "differences": [{"database": "shop", "table": "public.orders",
           "problem": "row counts differ", "source_rows": 1200, "copy_rows": 1199}]}
hold:
  description:
    - With O(hold_bouncers), the hold of the PgBouncer hosts; null without. C(signals) is each host's pause age in
      seconds when the last one signalled, C(released) how many waits were cancelled, and C(held_ms) the
      milliseconds from the last signal until the release (the snapshot and the restore point).
  returned: always
  type: dict
  sample: {"signals": {"app1": 0.04, "app2": 0.03}, "released": 2, "held_ms": 41}
elapsed_ms:
  description: Milliseconds from the first connection until every checksum was read.
  returned: always
  type: int
  sample: 840
"""

import contextlib
import json
import os
import tempfile
import time

from ansible_collections.opsforge.webstack.plugins.module_utils.drill import (
    DATABASES_SQL,
    SESSION_SETTINGS,
    TABLES_SQL,
    checksum_sql,
    compare_tables,
    table_checksum,
    transactions_between,
)
from ansible_collections.opsforge.webstack.plugins.module_utils.postgres import (
    connect,
    describe_target,
    elapsed_ms,
    fetch_all,
    fetch_one,
    new_module,
    postgres_common_argument_spec,
    psycopg2,
)
from ansible_collections.opsforge.webstack.plugins.module_utils.switchover import (
    HOLD_SIGNAL_PREFIX,
    SAFETY_MARGIN,
    release_holds,
    signal_name_error,
    wait_for_signals,
)

SIZE_SQL = "SELECT coalesce(sum(pg_database_size(name)), 0)::bigint AS size FROM unnest(%s::text[]) AS name"
HINT = "Check that the server runs and login_user may read every table (a superuser, or pg_read_all_data)."


def connect_for_snapshot(module, database):
    """A connection to database with the session settings the checksums need, ready to take a snapshot: the
    connection and its settings come first, so that with a hold (hold_bouncers) only take_snapshot() runs while
    the writers are paused."""
    conn = connect(module, dbname=database)
    cursor = conn.cursor()
    for name, value in SESSION_SETTINGS.items():
        cursor.execute("SELECT set_config(%s, %s, false)", (name, value))
    cursor.close()
    conn.autocommit = False
    conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
    return conn


def take_snapshot(conn):
    """Open the connection's REPEATABLE READ transaction: its first query fixes the snapshot, returned as text."""
    cursor = conn.cursor()
    cursor.execute("SELECT pg_current_snapshot()::text")
    snapshot = cursor.fetchone()[0]
    cursor.close()
    return snapshot


def read_tables(conn):
    """The checksums of every table the connection's database holds, and its unlogged tables."""
    tables, unlogged = {}, []
    for table in fetch_all(conn, TABLES_SQL):
        name = f"{table['schema']}.{table['name']}"
        if table["unlogged"]:
            unlogged.append(name)
            continue
        row = fetch_one(conn, checksum_sql(table["schema"], table["name"]))
        checksum = table_checksum(row["rows"], row["sum_high"], row["sum_low"])
        tables[name] = {"rows": int(row["rows"]), "checksum": checksum}
    return tables, unlogged


def validate_params(params):
    """Error message for unusable options, else None (pure)."""
    bouncers = params.get("hold_bouncers") or []
    for name in bouncers:
        error = signal_name_error(name)
        if error:
            return f"hold_bouncers: {error}."
    if len(set(bouncers)) != len(bouncers):
        return "hold_bouncers lists a name twice."
    if params.get("hold_signal_timeout", 20) <= 0:
        return f"hold_signal_timeout must be positive (got {params['hold_signal_timeout']})."
    if params.get("hold_timeout", 10) < SAFETY_MARGIN + 1:
        return (
            f"hold_timeout ({params['hold_timeout']:g} s) leaves no time for the snapshot: the module acts only while "
            f"the oldest pause is {SAFETY_MARGIN:g} s short of it, so give at least {SAFETY_MARGIN + 1:g} s."
        )
    return None


class Holds:
    """The primary's half of the hold (see module_utils/switchover.py): wait for every PgBouncer host's signal on
    this server, then release them all. A hold that is not released ends by itself at the hosts' hold_timeout."""

    def __init__(self, params, conn, start):
        self.expected = params["hold_bouncers"]
        self.conn = conn
        self.deadline = start + params["hold_signal_timeout"]
        self.timeout = params["hold_signal_timeout"]
        self.age_limit = params["hold_timeout"] - SAFETY_MARGIN
        self.report = {"signals": {}, "released": 0, "held_ms": None}
        self.held_since = None

    def note_signals(self, seen):
        self.report["signals"] = {name: round(age, 3) for name, age in seen.items()}

    def wait(self):
        """None once every host paused recently enough, else why the snapshot must not be taken."""
        decision, detail = wait_for_signals(
            self.conn, self.expected, self.age_limit, self.deadline, 0.02, self.note_signals, HOLD_SIGNAL_PREFIX
        )
        self.held_since = time.monotonic()
        if decision == "wait":
            return f"PgBouncer on {', '.join(detail)} did not signal a pause within {self.timeout:g} s"
        if decision == "late":
            return f"the oldest pause is {detail:.1f} s old, too close to the hosts' hold_timeout"
        return None

    def release(self):
        """Let every held host resume (also those that signalled when the wait failed)."""
        self.report["released"] += release_holds(self.conn)
        if self.held_since is not None and self.report["held_ms"] is None:
            self.report["held_ms"] = elapsed_ms(self.held_since)


def write_ready_file(path, content):
    """Write the file atomically (the caller polls for it)."""
    directory = os.path.dirname(path) or "."
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".pg_table_checksums-")
    with os.fdopen(handle, "w") as stream:
        json.dump(content, stream)
    os.replace(temporary, path)


def main():
    argument_spec = postgres_common_argument_spec()
    argument_spec.update(
        databases={"type": "list", "elements": "str", "default": []},
        restore_point={"type": "str"},
        switch_wal={"type": "bool", "default": False},
        ready_file={"type": "path"},
        compare_to={"type": "dict"},
        hold_bouncers={"type": "list", "elements": "str", "default": []},
        hold_timeout={"type": "float", "default": 10},
        hold_signal_timeout={"type": "float", "default": 20},
    )
    module = new_module(argument_spec, validate_params)
    params = module.params
    target = describe_target(params)
    start = time.monotonic()

    admin = connect(module)
    result = {"changed": False, "restore_point": None, "hold": None}
    connections = {}
    holds = Holds(params, admin, start) if params["hold_bouncers"] and not module.check_mode else None
    try:
        try:
            server = fetch_one(
                admin,
                "SELECT version() AS full_version, current_setting('server_version') AS version,"
                " (SELECT system_identifier::text FROM pg_control_system()) AS system_identifier,"
                " pg_is_in_recovery() AS in_recovery",
            )
            databases = params["databases"] or [row["name"] for row in fetch_all(admin, DATABASES_SQL)]
            if params["restore_point"] and server["in_recovery"]:
                module.fail_json(
                    msg=f"{target} is in recovery: a restore point can only be created on the primary. "
                    "Nothing was done."
                )
            for database in databases:
                connections[database] = connect_for_snapshot(module, database)
            if holds is not None:
                result["hold"] = holds.report
                refusal = holds.wait()
                if refusal:
                    holds.release()
                    module.fail_json(
                        msg=f"Not taking the snapshot on {target}: {refusal}. The PgBouncer hosts that paused were "
                        "released; no restore point was created.",
                        **result,
                    )
            snapshots = {database: take_snapshot(conn) for database, conn in connections.items()}
            if params["restore_point"] and not module.check_mode:
                point = fetch_one(
                    admin,
                    "SELECT lsn::text, pg_walfile_name(lsn) AS wal_file, clock_timestamp()::text AS time"
                    " FROM pg_create_restore_point(%s) AS lsn",
                    (params["restore_point"],),
                )
                result["restore_point"] = {"name": params["restore_point"], **point}
                result["changed"] = True
            after = fetch_one(admin, "SELECT pg_current_snapshot()::text AS s")["s"]
            if holds is not None:
                holds.release()
                if holds.report["released"] < len(holds.expected):
                    module.fail_json(
                        msg=f"Only {holds.report['released']} of the {len(holds.expected)} PgBouncer hosts were still "
                        f"held when {target} released them: one gave up its hold (hold_timeout) before the snapshot "
                        "was fixed, so writes may have crossed it. Run the drill again.",
                        **result,
                    )
            if result["restore_point"] and params["switch_wal"]:
                fetch_one(admin, "SELECT pg_switch_wal()")
            before = next(iter(snapshots.values()), after)
            window = max([transactions_between(snapshot, after) for snapshot in snapshots.values()], default=0)
            result["snapshot"] = {"before": before, "after": after, "transactions_in_window": window}
            if params["ready_file"] and not module.check_mode:
                write_ready_file(params["ready_file"], {"restore_point": result["restore_point"], "snapshot": before})

            tables, unlogged = {}, {}
            for database, conn in connections.items():
                tables[database], unlogged[database] = read_tables(conn)
            size = fetch_one(admin, SIZE_SQL, (databases,))["size"]
        except psycopg2.Error as exc:
            module.fail_json(msg=f"Reading the tables on {target} failed: {str(exc).strip()}. {HINT}", **result)
    finally:
        for conn in connections.values():
            conn.rollback()
            conn.close()
        if holds is not None and holds.report["held_ms"] is None:
            # A failure before the release: the PgBouncer hosts must not wait for their hold_timeout.
            with contextlib.suppress(psycopg2.Error):
                holds.release()
        admin.close()

    result.update(
        tables=tables,
        unlogged_tables=unlogged,
        table_count=sum(len(found) for found in tables.values()),
        row_count=sum(entry["rows"] for found in tables.values() for entry in found.values()),
        server={
            "version": server["version"],
            "full_version": server["full_version"],
            "system_identifier": server["system_identifier"],
            "in_recovery": server["in_recovery"],
            "databases_size_bytes": int(size),
        },
        elapsed_ms=elapsed_ms(start),
    )
    if params["compare_to"] is not None:
        result["comparison"] = compare_tables(params["compare_to"], tables)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
