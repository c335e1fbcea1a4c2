#!/usr/bin/python
# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r"""
module: pg_commit_writer
short_description: Write small commits and record every acknowledged one, or find which acknowledged commits are lost
version_added: 0.1.0
description:
  - With O(state=run), inserts one row at a time into O(table) (created when missing), each in its own
    transaction, for O(duration) seconds or until O(stop_file) exists, and records every commit the server
    acknowledged (its id and when the acknowledgement arrived) and every failed attempt (when, and the kind of
    error). A failed attempt drops the connection; the next attempt opens a new one. Run it asynchronously
    through PgBouncer during a failover drill.
  - It returns the write outage (the longest time without an acknowledged commit, which through PgBouncer can be
    writes that stall rather than fail, and the failed writes in it), the errors by kind and the writes per second.
  - With O(state=verify), reads the ids of O(run_id) that the database holds and returns the acknowledged commits
    (O(acknowledged), the RV(acknowledged) of the run) it no longer holds, and how far back they reach.
author:
  - opsforge developers (@opsforge)
attributes:
  check_mode:
    support: full
    description: V(run) writes nothing and says what it would do; V(verify) only reads and runs as usual.
extends_documentation_fragment:
  - opsforge.webstack.attributes
  - opsforge.webstack.postgres
  - opsforge.webstack.postgres.tls
options:
  state:
    description: V(run) writes and records; V(verify) compares the recorded commits with the table.
    type: str
    choices: [run, verify]
    default: run
  run_id:
    description: Names this run's rows, so that runs never mix.
    type: str
    required: true
  table:
    description: The table written to (C(run_id text, id bigint, at timestamptz), primary key C(run_id, id)).
    type: str
    default: webstack_drill_commits
  duration:
    description: Seconds to write for, at most.
    type: float
    default: 300
  interval:
    description: Seconds between two writes.
    type: float
    default: 0.02
  stop_file:
    description: Stop writing as soon as this file exists on the host.
    type: path
  acknowledged:
    description: With O(state=verify), the acknowledged commits of the run, as pairs of id and time.
    type: list
    elements: list
    default: []
  failed_at:
    description: With O(state=verify), when writes stopped (epoch seconds; C(stalled_at) of the run's RV(outage)); the
      RPO is the age of the oldest lost commit at that time.
    type: float
  cleanup:
    description: With O(state=verify), delete the run's rows once they are counted, and the table when no other
      run's rows are left in it (not in check mode).
    type: bool
    default: false
requirements:
  - psycopg2
notes:
  - Through PgBouncer in transaction mode every write is one transaction, so it measures what clients of the
    pooler see.
seealso:
  - module: opsforge.webstack.pg_promote
  - module: opsforge.webstack.pgbouncer_admin
"""

EXAMPLES = r"""
- name: Write through PgBouncer in the background
  opsforge.webstack.pg_commit_writer:
    run_id: dr-failover-20261203T104000Z
    login_host: 127.0.0.1
    login_port: 6432
    login_user: shop
    login_password: "{{ shop_password }}"
    login_db: shop
    stop_file: /tmp/dr-failover.stop
  async: 600
  poll: 0
  register: __writer_job

- name: Count the acknowledged commits the new primary lost
  opsforge.webstack.pg_commit_writer:
    state: verify
    run_id: dr-failover-20261203T104000Z
    acknowledged: "{{ __writer.acknowledged }}"
    failed_at: "{{ __writer.outage.stalled_at }}"
    cleanup: true
    login_host: 127.0.0.1
    login_port: 6432
    login_user: shop
    login_password: "{{ shop_password }}"
    login_db: shop
"""

RETURN = r"""
acknowledged:
  description: With V(run), every acknowledged commit as a pair of id and epoch seconds.
  returned: when O(state=run)
  type: list
  elements: list
  sample: [[1, 1796294400.01], [2, 1796294400.03]]
errors:
  description: With V(run), every failed attempt as a pair of epoch seconds and kind.
  returned: when O(state=run)
  type: list
  elements: list
  sample: [[1796294410.2, "OperationalError"]]
errors_by_kind:
  description: With V(run), the failed attempts counted by kind (SQLSTATE, or the exception's type).
  returned: when O(state=run)
  type: dict
  sample: {"OperationalError": 120, "SQLSTATE 57P01": 1}
outage:
  description:
    - With V(run), the longest time without an acknowledged commit, from the last one before it (C(stalled_at)) to
      the first one after it (C(writes_back_at)), its C(seconds), and the failed writes in it (C(errors)) and the
      first failed write of the run (C(first_error_at)). Still open when writes failed after the last
      acknowledged commit (C(writes_back_at) and C(seconds) null).
  returned: when O(state=run)
  type: dict
  contains:
    stalled_at:
      description: The last acknowledged commit before the longest stall (epoch seconds).
      type: float
    writes_back_at:
      description: The first acknowledged commit after it; null while the outage is open.
      type: float
    seconds:
      description: The stall's length; null while the outage is open.
      type: float
    first_error_at:
      description: The run's first failed write; null when none failed.
      type: float
    errors:
      description: The failed writes during the stall.
      type: int
  sample: {"stalled_at": 1796294410.2, "writes_back_at": 1796294421.7, "seconds": 11.5, "first_error_at": null,
           "errors": 0}
per_second:
  description: With V(run), acknowledged and failed writes in each second from the start.
  returned: when O(state=run)
  type: list
  elements: dict
  sample: [{"second": 0, "ok": 48, "errors": 0}]
started_at:
  description: With V(run), when writing started (epoch seconds).
  returned: when O(state=run)
  type: float
  sample: 1796294400.0
lost:
  description: With V(verify), how many acknowledged commits the table no longer holds.
  returned: when O(state=verify)
  type: int
  sample: 0
lost_ids:
  description: With V(verify), their ids.
  returned: when O(state=verify)
  type: list
  elements: int
  sample: []
rpo_seconds:
  description: With V(verify), how old the oldest lost commit was when writes first failed (0 when none is lost).
  returned: when O(state=verify)
  type: float
  sample: 0.0
"""

import os
import time

from ansible_collections.opsforge.webstack.plugins.module_utils.commit_log import (
    error_kind,
    errors_by_kind,
    lost_commits,
    outage,
    per_second,
)
from ansible_collections.opsforge.webstack.plugins.module_utils.drill import quote_ident
from ansible_collections.opsforge.webstack.plugins.module_utils.postgres import (
    connect,
    describe_target,
    ensure_psycopg2,
    fetch_all,
    new_module,
    postgres_common_argument_spec,
    psycopg2,
    try_connect,
)


def write(module, params, table):
    """Write until the duration ends or the stop file appears; return the acknowledgements and the errors."""
    acks, errors = [], []
    insert = f"INSERT INTO {table} (run_id, id) VALUES (%s, %s)"
    started = time.time()
    deadline = time.monotonic() + params["duration"]
    conn, ident = None, 0
    while time.monotonic() < deadline and not (params["stop_file"] and os.path.exists(params["stop_file"])):
        if conn is None:
            conn, err = try_connect(params)
            if conn is None:
                errors.append((time.time(), "connect: " + (err.splitlines()[0] if err else "failed")[:80]))
                time.sleep(params["interval"])
                continue
        ident += 1
        try:
            cursor = conn.cursor()
            cursor.execute(insert, (params["run_id"], ident))
            acks.append((ident, time.time()))
        except psycopg2.Error as exc:
            errors.append((time.time(), error_kind(exc)))
            conn.close()
            conn = None
        time.sleep(params["interval"])
    if conn is not None:
        conn.close()
    return started, acks, errors


def main():
    argument_spec = postgres_common_argument_spec()
    argument_spec.update(
        state={"type": "str", "choices": ["run", "verify"], "default": "run"},
        run_id={"type": "str", "required": True},
        table={"type": "str", "default": "webstack_drill_commits"},
        duration={"type": "float", "default": 300},
        interval={"type": "float", "default": 0.02},
        stop_file={"type": "path"},
        acknowledged={"type": "list", "elements": "list", "default": []},
        failed_at={"type": "float"},
        cleanup={"type": "bool", "default": False},
    )
    module = new_module(argument_spec)
    params = module.params
    table = quote_ident(params["table"])
    target = describe_target(params)
    ensure_psycopg2(module)

    if params["state"] == "verify":
        conn = connect(module)
        try:
            rows = fetch_all(conn, f"SELECT id FROM {table} WHERE run_id = %s", (params["run_id"],))
            if params["cleanup"] and not module.check_mode:
                conn.cursor().execute(f"DELETE FROM {table} WHERE run_id = %s", (params["run_id"],))
                # the table is the drills' own: gone with its last run's rows
                if not fetch_all(conn, f"SELECT 1 FROM {table} LIMIT 1"):
                    conn.cursor().execute(f"DROP TABLE {table}")
        except psycopg2.Error as exc:
            module.fail_json(msg=f"Reading {params['table']} on {target} failed: {str(exc).strip()}.")
        finally:
            conn.close()
        acks = [(int(ident), float(when)) for ident, when in params["acknowledged"]]
        result = lost_commits(acks, {row["id"] for row in rows}, params["failed_at"])
        module.exit_json(changed=bool(params["cleanup"] and rows), **result)

    if module.check_mode:
        module.exit_json(changed=True, msg=f"would write to {params['table']} on {target} for {params['duration']} s")
    conn = connect(module)
    try:
        conn.cursor().execute(
            f"CREATE TABLE IF NOT EXISTS {table} (run_id text, id bigint, at timestamptz NOT NULL DEFAULT now(),"
            " PRIMARY KEY (run_id, id))"
        )
    except psycopg2.Error as exc:
        module.fail_json(msg=f"Creating {params['table']} on {target} failed: {str(exc).strip()}.")
    finally:
        conn.close()
    started, acks, errors = write(module, params, table)
    module.exit_json(
        changed=True,
        started_at=started,
        acknowledged=[list(ack) for ack in acks],
        errors=[list(error) for error in errors],
        errors_by_kind=errors_by_kind(errors),
        outage=outage(acks, errors),
        per_second=per_second(acks, errors, started),
        msg=f"{len(acks)} commits acknowledged, {len(errors)} attempts failed",
    )


if __name__ == "__main__":
    main()
