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
elapsed_ms:
  description: Milliseconds from the first connection until every checksum was read.
  returned: always
  type: int
  sample: 840
"""

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

SIZE_SQL = "SELECT coalesce(sum(pg_database_size(name)), 0)::bigint AS size FROM unnest(%s::text[]) AS name"
HINT = "Check that the server runs and login_user may read every table (a superuser, or pg_read_all_data)."


def open_snapshot(module, database):
    """A connection to database inside a REPEATABLE READ transaction whose snapshot is already taken."""
    conn = connect(module, dbname=database, autocommit=False)
    conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
    cursor = conn.cursor()
    for name, value in SESSION_SETTINGS.items():
        cursor.execute("SELECT set_config(%s, %s, false)", (name, value))
    # The first query of the transaction fixes its snapshot.
    cursor.execute("SELECT pg_current_snapshot()::text")
    snapshot = cursor.fetchone()[0]
    cursor.close()
    return conn, snapshot


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
    )
    module = new_module(argument_spec)
    params = module.params
    target = describe_target(params)
    start = time.monotonic()

    admin = connect(module)
    result = {"changed": False, "restore_point": None}
    connections = {}
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
            snapshots = {}
            for database in databases:
                connections[database], snapshots[database] = open_snapshot(module, database)
            if params["restore_point"] and not module.check_mode:
                point = fetch_one(
                    admin,
                    "SELECT lsn::text, pg_walfile_name(lsn) AS wal_file, clock_timestamp()::text AS time"
                    " FROM pg_create_restore_point(%s) AS lsn",
                    (params["restore_point"],),
                )
                result["restore_point"] = {"name": params["restore_point"], **point}
                result["changed"] = True
                if params["switch_wal"]:
                    fetch_one(admin, "SELECT pg_switch_wal()")
            after = fetch_one(admin, "SELECT pg_current_snapshot()::text AS s")["s"]
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
