#!/usr/bin/python
# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: pg_switchover_promote
short_description: Promote a standby in a switchover once every PgBouncer host has paused
version_added: 0.1.0
description:
  - The promoting half of the critical section of a planned switchover; the other half is
    M(opsforge.webstack.pgbouncer_switchover) on every PgBouncer host. Both run at the same time as async jobs,
    and coordinate through the old primary, with no Ansible task in between.
  - Runs on the target standby. Connects to the old primary over TCP as O(switchover_user) and waits, at most
    O(signal_timeout) seconds, until every host in O(bouncers) holds a connection there whose
    C(application_name) is C(webstack-switchover-paused:<name>), which each does only once its pools are paused.
  - Then reads C(pg_current_wal_flush_lsn()) on the old primary (every acknowledged commit is at or before it),
    waits at most O(catchup_timeout) seconds until the local replay position reaches it, checks the signals
    again, and promotes with C(pg_promote()). It returns once the server accepts a write.
  - It refuses, changing nothing, when not every PgBouncer host signalled in time, when the standby does not
    catch up in time, or when the oldest pause is older than O(pause_timeout) - O(pause_wait) - O(promote_wait)
    - 2 seconds. The PgBouncer side gives up O(pause_timeout) seconds after PAUSE, so this module can never
    promote after a PgBouncer host could have resumed on the old primary.
  - A different module from M(opsforge.webstack.pg_promote), which promotes unconditionally (for failover and
    tests); this one only promotes inside the switchover protocol.
author:
  - opsforge developers (@opsforge)
extends_documentation_fragment:
  - opsforge.webstack.postgres
attributes:
  check_mode:
    support: full
    description: Connects to both servers, checks the target is a standby and the bounds fit, and waits for nothing.
  diff_mode:
    support: none
    description: Nothing is reported as a diff.
options:
  old_primary_host:
    description: Address of the current (old) primary, where the PgBouncer hosts signal.
    type: str
    required: true
  old_primary_port:
    description: Port of the old primary.
    type: int
    default: 5432
  switchover_user:
    description:
      - Role to connect to the old primary as; the same one the PgBouncer hosts signal with, so that the start
        time of their connections is visible. Needs no privilege beyond CONNECT.
    type: str
    required: true
  switchover_password:
    description: Password of O(switchover_user).
    type: str
    required: true
  switchover_db:
    description: Database on the old primary to connect to.
    type: str
    default: postgres
  bouncers:
    description: The signal names (usually inventory hostnames) of every PgBouncer host that must have paused.
    type: list
    elements: str
    required: true
  signal_timeout:
    description: Seconds to wait from the start of the module for every signal.
    type: float
    default: 10
  catchup_timeout:
    description: Seconds to wait for the local replay position to reach the old primary's flush position.
    type: float
    default: 3
  pause_timeout:
    description: The O(opsforge.webstack.pgbouncer_switchover#module:pause_timeout) the PgBouncer hosts use.
    type: float
    default: 15
  pause_wait:
    description: The O(opsforge.webstack.pgbouncer_switchover#module:pause_wait) the PgBouncer hosts use.
    type: float
    default: 3
  promote_wait:
    description: Seconds the promotion may take until the server accepts writes.
    type: float
    default: 3
  poll_interval_ms:
    description: Milliseconds between two looks at the signals, the replay position or the promotion.
    type: int
    default: 20
notes:
  - The login options point at the local standby; connect as a superuser (for example C(become_user=postgres)
    over the unix socket), since C(pg_promote()) needs it.
seealso:
  - module: opsforge.webstack.pgbouncer_switchover
  - module: opsforge.webstack.pg_promote
"""

EXAMPLES = r"""
- name: Promote db2 once app1 and app2 have paused (launched before the PgBouncer side)
  opsforge.webstack.pg_switchover_promote:
    old_primary_host: 10.0.0.11
    switchover_user: switchover
    switchover_password: "{{ postgresql_switchover_password }}"
    bouncers: [app1, app2]
  become: true
  become_user: postgres
  async: 60
  poll: 0
  register: __promote_job
"""

RETURN = r"""
timeline:
  description: The timeline after promotion.
  returned: when promoted
  type: int
  sample: 3
old_primary_lsn:
  description: The old primary's flush position the standby had to reach.
  returned: when every signal came
  type: str
  sample: 0/5A0010D8
promote_lsn:
  description: The replay position at promotion.
  returned: when promoted
  type: str
  sample: 0/5A0010D8
pause_age_ms:
  description: Age of the oldest pause (from its signal connection's start) right before promoting.
  returned: when every signal came
  type: int
  sample: 43
timings:
  description: Milliseconds for each phase, C(signals) (from the module's start), C(catchup), C(promote)
    (until a write is accepted) and C(total).
  returned: always
  type: dict
  sample: {"signals": 1210, "catchup": 2, "promote": 118, "total": 1335}
signals:
  description: The signal names seen on the old primary with the age of each in seconds.
  returned: always
  type: dict
  sample: {"app1": 0.05}
msg:
  description: What the module did.
  returned: always
  type: str
  sample: promoted to timeline 3 with 2 PgBouncer hosts paused for 43 ms
"""

import time
import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opsforge.webstack.plugins.module_utils.postgres import (
    HAS_PSYCOPG2,
    connect,
    current_timeline,
    describe_target,
    elapsed_ms,
    ensure_psycopg2,
    fetch_all,
    fetch_one,
    format_lsn,
    parse_lsn,
    postgres_common_argument_spec,
    try_connect,
)
from ansible_collections.opsforge.webstack.plugins.module_utils.switchover import (
    SIGNALS_SQL,
    bounds_error,
    caught_up,
    max_pause_age,
    signal_decision,
    signal_name_error,
    signals_query_args,
    switchover_credentials_argument_spec,
)

if HAS_PSYCOPG2:
    import psycopg2


def validate_params(params):
    """Error message for unusable options, else None (pure)."""
    if not params.get("bouncers"):
        return "bouncers must name at least one PgBouncer host."
    for name in params["bouncers"]:
        error = signal_name_error(name)
        if error:
            return f"bouncers: {error}."
    if len(set(params["bouncers"])) != len(params["bouncers"]):
        return "bouncers lists a name twice."
    for name in ("catchup_timeout",):
        if params.get(name) is not None and params[name] <= 0:
            return f"{name} must be positive (got {params[name]})."
    if not 1 <= params.get("poll_interval_ms", 20) <= 1000:
        return "poll_interval_ms must be between 1 and 1000."
    return bounds_error(params["pause_timeout"], params["pause_wait"], params["promote_wait"], params["signal_timeout"])


def old_primary_params(params):
    return {
        "login_host": params["old_primary_host"],
        "login_port": params["old_primary_port"],
        "login_user": params["switchover_user"],
        "login_password": params["switchover_password"],
        "login_db": params["switchover_db"],
        "connect_timeout": min(params["connect_timeout"], 5),
    }


def read_signals(conn):
    rows = fetch_all(conn, SIGNALS_SQL, signals_query_args())
    return {row["name"]: float(row["age"] or 0.0) for row in rows}


def main():
    argument_spec = postgres_common_argument_spec()
    argument_spec.update(switchover_credentials_argument_spec())
    argument_spec.update(
        old_primary_host={"type": "str", "required": True},
        old_primary_port={"type": "int", "default": 5432},
        bouncers={"type": "list", "elements": "str", "required": True},
        signal_timeout={"type": "float", "default": 10},
        catchup_timeout={"type": "float", "default": 3},
        pause_timeout={"type": "float", "default": 15},
        pause_wait={"type": "float", "default": 3},
        promote_wait={"type": "float", "default": 3},
        poll_interval_ms={"type": "int", "default": 20},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    error = validate_params(params)
    if error:
        module.fail_json(msg=error)
    ensure_psycopg2(module)

    start = time.monotonic()
    interval = params["poll_interval_ms"] / 1000.0
    age_limit = max_pause_age(params["pause_timeout"], params["pause_wait"], params["promote_wait"])
    expected = params["bouncers"]
    target = describe_target(params)
    old_params = old_primary_params(params)
    old_target = describe_target(old_params)
    timings = {}
    result = {"changed": False, "timings": timings, "signals": {}}

    def refuse(msg):
        timings["total"] = elapsed_ms(start)
        module.fail_json(
            msg=f"Not promoting {target}: {msg} Nothing was changed; the old primary keeps serving.", **result
        )

    local = connect(module)
    old, err = try_connect(old_params)
    if old is None:
        local.close()
        refuse(f"could not connect to the old primary as {old_target}: {err}.")
    try:
        row = fetch_one(local, "SELECT pg_is_in_recovery() AS in_recovery")
        if not row["in_recovery"]:
            refuse("it is not a standby (already a primary).")
        if module.check_mode:
            result.update(changed=True, msg=f"would wait for {', '.join(expected)} to pause, then promote {target}")
            module.exit_json(**result)

        # 1. Every PgBouncer host paused?
        deadline = start + params["signal_timeout"]
        while True:
            seen = read_signals(old)
            result["signals"] = seen
            decision, detail = signal_decision(expected, seen, age_limit)
            if decision != "wait" or time.monotonic() >= deadline:
                break
            time.sleep(interval)
        timings["signals"] = elapsed_ms(start)
        if decision == "wait":
            refuse(
                f"not every PgBouncer host signalled within {params['signal_timeout']:g} s (missing: "
                f"{', '.join(detail)}). They resume on the old primary by themselves."
            )
        if decision == "late":
            refuse(f"the oldest pause is {detail:.1f} s old, more than the {age_limit:g} s that are safe.")

        # 2. Replay everything the old primary has flushed (every acknowledged commit).
        phase = time.monotonic()
        old_lsn = parse_lsn(fetch_one(old, "SELECT pg_current_wal_flush_lsn()::text AS lsn")["lsn"])
        result["old_primary_lsn"] = format_lsn(old_lsn)
        deadline = phase + params["catchup_timeout"]
        while True:
            replay = fetch_one(local, "SELECT pg_last_wal_replay_lsn()::text AS lsn")["lsn"]
            replay_lsn = parse_lsn(replay) if replay else None
            if caught_up(old_lsn, replay_lsn) or time.monotonic() >= deadline:
                break
            time.sleep(interval / 4)
        timings["catchup"] = elapsed_ms(phase)
        if not caught_up(old_lsn, replay_lsn):
            refuse(
                f"it replayed only up to {format_lsn(replay_lsn)} within {params['catchup_timeout']:g} s, the old "
                f"primary has flushed {format_lsn(old_lsn)}."
            )

        # 3. Still every signal, and still young enough? Then promote.
        seen = read_signals(old)
        result["signals"] = seen
        decision, detail = signal_decision(expected, seen, age_limit)
        if decision == "wait":
            refuse(f"PgBouncer hosts {', '.join(detail)} stopped signalling (they gave up and resumed).")
        if decision == "late":
            refuse(f"the oldest pause is {detail:.1f} s old, more than the {age_limit:g} s that are safe.")
        result["pause_age_ms"] = round(max(seen.values()) * 1000)
        result["promote_lsn"] = format_lsn(replay_lsn)

        phase = time.monotonic()
        promoted = fetch_one(local, "SELECT pg_promote(wait => false) AS ok")["ok"]
        result["changed"] = True
        deadline = phase + params["promote_wait"]
        writable = False
        while promoted:
            row = fetch_one(
                local,
                "SELECT pg_is_in_recovery() AS in_recovery, current_setting('transaction_read_only') AS ro",
            )
            if not row["in_recovery"] and row["ro"] == "off":
                writable = True
                break
            if time.monotonic() >= deadline:
                break
            time.sleep(interval / 4)
        timings["promote"] = elapsed_ms(phase)
        if not writable:
            timings["total"] = elapsed_ms(start)
            module.fail_json(
                msg=f"{target} was asked to promote but did not accept writes within {params['promote_wait']:g} s. "
                "The promotion may still complete: check both servers (pg_replication_info) before anything else.",
                **result,
            )
        result["timeline"] = current_timeline(local, False)
    except psycopg2.Error as exc:
        timings["total"] = elapsed_ms(start)
        module.fail_json(
            msg=f"Switchover promotion on {target} failed: {str(exc).strip()} (promotion requested: "
            f"{result['changed']}).",
            exception=traceback.format_exc(),
            **result,
        )
    finally:
        local.close()
        old.close()
    timings["total"] = elapsed_ms(start)
    result["msg"] = (
        f"promoted to timeline {result['timeline']} with {len(expected)} PgBouncer hosts paused for "
        f"{result['pause_age_ms']} ms before the promotion"
    )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
