#!/usr/bin/python
# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: pg_promote
short_description: Promote a PostgreSQL standby and wait until it accepts writes
version_added: 0.1.0
description:
  - Promotes the standby it connects to with C(pg_promote()), then waits until the server has left recovery,
    C(transaction_read_only) is off and a transaction can be assigned a transaction ID.
  - While it waits, it wakes the server's startup process (with a reload) when it sleeps out
    C(wal_retrieve_retry_interval) after the promote request, as a standby can when its primary was lost a few
    seconds before (up to 5 s by default for nothing).
  - Returns the new timeline, the WAL position at promotion and how long it took.
  - A server that is already a primary is left alone and reported with C(changed=false), so that a second run
    of a playbook changes nothing. Set O(fail_if_primary=true) to refuse instead.
  - Before promoting, it can refuse a standby that has not replayed enough WAL (O(max_lag_bytes)).
author:
  - opsforge developers (@opsforge)
attributes:
  check_mode:
    support: full
    description: Checks the role and the lag as usual and reports that it would promote, without promoting.
extends_documentation_fragment:
  - opsforge.webstack.attributes
  - opsforge.webstack.postgres
  - opsforge.webstack.postgres.tls
options:
  wait_seconds:
    description:
      - Seconds to wait for the promotion itself (passed to C(pg_promote)) and then, again at most, for the
        server to accept writes.
    type: int
    default: 60
  fail_if_primary:
    description:
      - Fail when the server is already a primary instead of reporting C(changed=false).
    type: bool
    default: false
  max_lag_bytes:
    description:
      - Refuse to promote when the standby is more than this many bytes behind.
      - The lag is measured from O(primary_lsn) when given, else from the WAL the standby has received but not
        replayed yet.
    type: int
  primary_lsn:
    description:
      - The last WAL position written on the old primary, as C(X/X). For example the C(current_lsn) that
        M(opsforge.webstack.pg_replication_info) returned just before the old primary was stopped.
      - With O(max_lag_bytes), the standby must have replayed up to within that many bytes of it.
    type: str
  catchup_timeout:
    description:
      - Seconds to wait for the standby to replay up to O(max_lag_bytes) before refusing. V(0) checks once.
    type: int
    default: 0
notes:
  - Connect as a superuser, or as a role granted EXECUTE on C(pg_promote).
  - Point clients (for example PgBouncer) at the new primary afterwards; this module does not.
seealso:
  - module: opsforge.webstack.pg_replication_info
  - module: opsforge.webstack.pg_standby
  - module: opsforge.webstack.pgbouncer_admin
"""

EXAMPLES = r"""
- name: Promote the standby once the old primary is stopped
  opsforge.webstack.pg_promote:
    primary_lsn: "{{ __old_primary.current_lsn }}"
    max_lag_bytes: 0
    catchup_timeout: 10
  become: true
  become_user: postgres
  register: __promote

- name: Show what happened
  ansible.builtin.debug:
    msg: "timeline {{ __promote.timeline }} after {{ __promote.elapsed_ms }} ms"

- name: Refuse when the target is already a primary
  opsforge.webstack.pg_promote:
    fail_if_primary: true
"""

RETURN = r"""
already_primary:
  description: Whether the server was a primary before the module ran.
  returned: always
  type: bool
  sample: false
timeline:
  description: The timeline after promotion (or the current one when nothing was done or in check mode).
  returned: always
  type: int
  sample: 2
previous_timeline:
  description: The timeline before promotion.
  returned: always
  type: int
  sample: 1
promote_lsn:
  description: The WAL position the standby had replayed when it was promoted.
  returned: when a standby was promoted or would be
  type: str
  sample: 0/5000060
current_lsn:
  description: C(pg_current_wal_lsn()) once the server accepts writes.
  returned: when a standby was promoted
  type: str
  sample: 0/50000D8
lag_bytes:
  description: The lag measured before promotion (see O(max_lag_bytes)).
  returned: when the server was a standby
  type: int
  sample: 0
promotion_woken:
  description: How many times the promotion was woken from the sleep of C(wal_retrieve_retry_interval).
  returned: when a standby was promoted
  type: int
  sample: 0
elapsed_ms:
  description: Milliseconds from calling C(pg_promote) until the server accepted a write.
  returned: when a standby was promoted
  type: int
  sample: 412
msg:
  description: What the module did.
  returned: always
  type: str
  sample: promoted to timeline 2 in 412 ms
"""

import time

from ansible_collections.opsforge.webstack.plugins.module_utils.lsn import is_valid_lsn, lsn_diff
from ansible_collections.opsforge.webstack.plugins.module_utils.postgres import (
    PromotionWatch,
    accepts_writes,
    connect,
    current_timeline,
    describe_target,
    elapsed_ms,
    failing_on_db_error,
    fetch_one,
    new_module,
    poll_new_connections,
    poll_until,
    postgres_common_argument_spec,
)

STANDBY_POSITION_SQL = """
SELECT pg_is_in_recovery() AS in_recovery,
       pg_last_wal_receive_lsn()::text AS receive_lsn,
       pg_last_wal_replay_lsn()::text AS replay_lsn
"""


def measure_lag(receive_lsn, replay_lsn, primary_lsn=None):
    """Bytes the standby is behind: primary_lsn - replay when known, else receive - replay; never negative (pure)."""
    reference = primary_lsn if primary_lsn else receive_lsn
    diff = lsn_diff(reference, replay_lsn)
    if diff is None:
        return None
    return max(diff, 0)


def lag_refusal(lag_bytes, max_lag_bytes):
    """An error message when the lag is over the bound (or unknown while a bound is set), else None (pure)."""
    if max_lag_bytes is None:
        return None
    if lag_bytes is None:
        return "cannot tell how far the standby is behind (no WAL received or replayed yet)"
    if lag_bytes > max_lag_bytes:
        return f"the standby is {lag_bytes} bytes behind, more than max_lag_bytes={max_lag_bytes}"
    return None


def validate_params(params):
    """Error message for inconsistent options, else None (pure)."""
    if params.get("primary_lsn") and not is_valid_lsn(params["primary_lsn"]):
        return f"primary_lsn {params['primary_lsn']!r} is not an LSN; give it as PostgreSQL prints it, e.g. 0/3000148."
    if params.get("max_lag_bytes") is not None and params["max_lag_bytes"] < 0:
        return "max_lag_bytes cannot be negative."
    for name in ("wait_seconds", "catchup_timeout"):
        if params.get(name) is not None and params[name] < 0:
            return f"{name} cannot be negative."
    if params.get("wait_seconds") == 0:
        return "wait_seconds must be at least 1."
    return None


def wait_writable(params, deadline):
    """Poll (reconnecting if needed) until the server accepts writes; return (True, None) or (None, last seen)."""
    return poll_new_connections(
        params,
        lambda conn: (True, None) if accepts_writes(conn) else (None, "still in recovery or read-only"),
        deadline,
        0.1,
        connect_error="connection failed",
        query_error="write check failed",
    )


def main():
    argument_spec = postgres_common_argument_spec()
    argument_spec.update(
        wait_seconds={"type": "int", "default": 60},
        fail_if_primary={"type": "bool", "default": False},
        max_lag_bytes={"type": "int"},
        primary_lsn={"type": "str"},
        catchup_timeout={"type": "int", "default": 0},
    )
    module = new_module(argument_spec, validate_params)
    params = module.params
    target = describe_target(params)

    hint = "Connect as a superuser or a role allowed to run pg_promote()."
    with failing_on_db_error(module, connect(module), f"Promoting {target}", hint) as conn:
        state = fetch_one(conn, STANDBY_POSITION_SQL)
        previous_timeline = current_timeline(conn, state["in_recovery"])
        result = {"changed": False, "already_primary": not state["in_recovery"], "previous_timeline": previous_timeline}

        if not state["in_recovery"]:
            if params["fail_if_primary"]:
                module.fail_json(
                    msg=f"{target} is already a primary (timeline {previous_timeline}) and fail_if_primary=true. "
                    "Point the task at the standby to promote.",
                    **result,
                )
            module.exit_json(
                timeline=previous_timeline, msg=f"already a primary on timeline {previous_timeline}", **result
            )

        def position():
            current = fetch_one(conn, STANDBY_POSITION_SQL)
            lag = measure_lag(current["receive_lsn"], current["replay_lsn"], params["primary_lsn"])
            return current, lag, lag_refusal(lag, params["max_lag_bytes"])

        state, lag, refusal = poll_until(
            position, lambda seen: seen[2] is None, time.monotonic() + params["catchup_timeout"], 0.2
        )
        result["lag_bytes"] = lag
        result["promote_lsn"] = state["replay_lsn"]
        if refusal:
            waited = f" after waiting {params['catchup_timeout']} s" if params["catchup_timeout"] else ""
            module.fail_json(
                msg=f"Refusing to promote {target}: {refusal}{waited} (received {state['receive_lsn']}, replayed "
                f"{state['replay_lsn']}, primary_lsn {params['primary_lsn']}). Wait for replay to catch up, raise "
                "catchup_timeout, or raise max_lag_bytes if losing those transactions is acceptable.",
                **result,
            )

        if module.check_mode:
            module.exit_json(
                changed=True,
                timeline=previous_timeline,
                msg=f"would promote {target} (replayed up to {state['replay_lsn']})",
                **{k: v for k, v in result.items() if k != "changed"},
            )

        start = time.monotonic()
        promoted = fetch_one(conn, "SELECT pg_promote(wait => false) AS promoted")["promoted"]
        watch = PromotionWatch(conn)
        left = promoted and poll_until(watch.left_recovery, bool, start + params["wait_seconds"], 0.05)
        result["promotion_woken"] = watch.woken
        if not left:
            module.fail_json(
                msg=f"pg_promote() on {target} did not finish within {params['wait_seconds']} seconds. Check the "
                "server log; the promotion may still complete, so run pg_replication_info before retrying.",
                **result,
            )

    ok, last_seen = wait_writable(params, time.monotonic() + params["wait_seconds"])
    if not ok:
        module.fail_json(
            msg=f"{target} was promoted but did not accept writes within {params['wait_seconds']} seconds; last "
            f"seen: {last_seen}.",
            changed=True,
            **{k: v for k, v in result.items() if k != "changed"},
        )
    result["elapsed_ms"] = elapsed_ms(start)
    conn = connect(module)
    try:
        row = fetch_one(conn, "SELECT pg_current_wal_lsn()::text AS lsn")
        result["current_lsn"] = row["lsn"]
        result["timeline"] = current_timeline(conn, False)
    finally:
        conn.close()
    result["changed"] = True
    result["msg"] = f"promoted to timeline {result['timeline']} in {result['elapsed_ms']} ms"
    module.exit_json(**result)


if __name__ == "__main__":
    main()
