# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Choose the target of a planned switchover and refuse a plan that is not safe now."""

DOCUMENTATION = r"""
name: switchover_plan
short_description: Choose a switchover's target and say why it must not happen now
version_added: 0.1.0
author: opsforge developers (@opsforge)
description:
  - Takes the primary's C(pg_stat_replication) rows (M(opsforge.webstack.pg_replication_info)'s C(replicas))
    and returns the standbys that stream, those within the lag bound, the target (the requested one, or the
    streaming standby with the least lag) and a refusal, the first that applies of the requested target
    already being the primary, not being a member, no healthy standby, the target not streaming or lagging,
    and a transaction on the primary open longer than the bound (PAUSE would wait for it).
  - Members are matched to replicas by their slot name (P(opsforge.webstack.slot_name#filter)).
extends_documentation_fragment:
  - opsforge.webstack.cluster
options:
  _input:
    description: The replicas of the primary, dicts with C(application_name), C(state) and C(lag_bytes).
    type: list
    elements: dict
    required: true
  primary:
    description: The current primary.
    type: str
    required: true
  group:
    description: The name of the members' inventory group, for messages.
    type: str
    required: true
  standbys:
    description: The current standbys, for messages.
    type: list
    elements: str
    required: true
  requested:
    description: The target asked for; empty to choose the healthiest standby.
    type: str
    default: ''
  max_lag_bytes:
    description: The most a target may lag behind.
    type: int
    default: 16777216
  oldest:
    description: The oldest open transaction on the primary (C(age), C(pid), C(usename), C(application_name)), or empty.
    type: dict
    default: {}
  max_xact_seconds:
    description: The longest a transaction on the primary may be open.
    type: float
    default: 5
"""

EXAMPLES = r"""
- name: Choose the target
  ansible.builtin.set_fact:
    _plan: >-
      {{ __repl.replicas | opsforge.webstack.switchover_plan(groups['postgres'], 'db1', 'postgres', ['db2'],
         requested=switchover_target | default(''), oldest=__oldest.query_result | first | default({})) }}
"""

RETURN = r"""
_value:
  description:
    - C(old) (the primary), C(target) (empty when none qualifies), C(streaming) and C(healthy) (member names,
      least lag first), C(lags) (member name to lag in bytes) and C(refusal) (empty when the plan is safe).
  type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.slot_name import slot_name


def _lag_key(replica):
    lag = replica.get("lag_bytes")
    return (lag is None, lag or 0)


def refusal(plan, members, group, standbys, requested, max_lag_bytes, oldest, max_xact_seconds, replicas):
    """The first reason not to switch over now, or '' (pure)."""
    target, old = plan["target"], plan["old"]
    if target == old:
        return (
            f"{target} is already the primary. Pick a standby ({', '.join(standbys)}) or leave switchover_target unset."
        )
    if target and target not in members:
        return f"{target} is not a member of group '{group}' ({', '.join(members)})."
    if not plan["healthy"] and not requested:
        return (
            f"there is no healthy standby: none streams from {old} within {max_lag_bytes} bytes "
            f"(streaming: {plan['lags']}). Repair replication first (site.yml rejoins standbys)."
        )
    if target not in plan["streaming"]:
        names = [replica.get("application_name") for replica in replicas]
        return (
            f"{target} does not stream from {old} (pg_stat_replication shows {names}). "
            "Repair it first or pick another standby."
        )
    lag = plan["lags"][target]
    if int(lag or 0) > int(max_lag_bytes):
        return (
            f"{target} is {lag} bytes behind, more than switchover_max_lag_bytes={max_lag_bytes}. "
            "Wait for it to catch up."
        )
    age = float((oldest or {}).get("age") or 0)
    if age > float(max_xact_seconds):
        return (
            f"a transaction on {old} has been open for {age:.1f} s (pid {oldest.get('pid')}, "
            f"user {oldest.get('usename')}, application '{oldest.get('application_name')}'), "
            f"more than switchover_max_xact_seconds={max_xact_seconds}: "
            "PAUSE would wait for it. Let it finish (or end it) and run this again."
        )
    return ""


def switchover_plan(
    replicas, members, primary, group, standbys, requested="", max_lag_bytes=16777216, oldest=None, max_xact_seconds=5
):
    """The switchover's target, what it was chosen from, and the refusal ('' when safe) (pure)."""
    if not isinstance(replicas, list) or not isinstance(members, list):
        raise AnsibleFilterError("switchover_plan expects the list of replicas and the list of members")
    host_of = dict(zip(slot_name(members), members))
    streaming_replicas = sorted(
        (r for r in replicas if r.get("state") == "streaming" and r.get("application_name") in host_of), key=_lag_key
    )
    streaming = [host_of[r["application_name"]] for r in streaming_replicas]
    healthy = [
        host_of[r["application_name"]]
        for r in streaming_replicas
        if r.get("lag_bytes") is not None and int(r["lag_bytes"]) <= int(max_lag_bytes)
    ]
    plan = {
        "old": primary,
        "target": requested or (healthy[0] if healthy else ""),
        "streaming": streaming,
        "healthy": healthy,
        "lags": {host_of[r["application_name"]]: r.get("lag_bytes") for r in streaming_replicas},
    }
    plan["refusal"] = refusal(
        plan, members, group, standbys, requested, max_lag_bytes, oldest, max_xact_seconds, replicas
    )
    return plan


class FilterModule:
    """Switchover planning."""

    def filters(self):
        return {"switchover_plan": switchover_plan}
