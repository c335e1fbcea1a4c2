# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decide an unplanned failover: which standby to promote, which members to fence, or why not to fail over."""

DOCUMENTATION = r"""
name: failover_plan
short_description: Decide an unplanned failover, or refuse one that would split the brain
version_added: 0.1.0
author: opsforge developers (@opsforge)
description:
  - Takes what failover.yml read from every member and returns the standby to promote, the members to fence and
    rejoin, and a refusal that names the fix.
  - A primary that still answers and accepts writes is refused unless O(force) (a failover then would leave two
    primaries); two such primaries are always refused.
  - The target is O(requested) when given, else the running standby that has received the most WAL.
options:
  _input:
    description:
      - Per member, C(reachable) (bool), C(state) (a pg_node_state state, or null when it could not be asked),
        C(writable) (bool) and C(receive_lsn) (the WAL received, C(X/X), for a standby).
    type: dict
    required: true
  requested:
    description: The standby the operator asks for; empty for the best one.
    type: str
    default: ''
  force:
    description: Fail over even though a primary still accepts writes (it is fenced first).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Decide the failover
  ansible.builtin.set_fact:
    plan: "{{ members | opsforge.webstack.failover_plan(requested='', force=false) }}"

- name: Stop before any change when the failover may not go ahead
  ansible.builtin.fail:
    msg: "{{ plan.refusal }}"
  when: plan.refusal | length > 0
"""

RETURN = r"""
_value:
  description: C(target), C(old) (the members to fence and rejoin), C(writable) (primaries that accept writes),
    C(positions) (WAL received per running standby) and C(refusal) (empty when the failover may go ahead).
  type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.module_utils.lsn import is_valid_lsn, parse_lsn


def failover_plan(members, requested="", force=False):
    """The failover's target, the members to fence, or the refusal (pure)."""
    if not isinstance(members, dict) or not members:
        raise AnsibleFilterError("failover_plan expects a non-empty dict of member name to what was read")
    writable = sorted(n for n, m in members.items() if m.get("state") == "running-primary" and m.get("writable"))
    standbys = sorted(n for n, m in members.items() if m.get("reachable") and m.get("state") == "running-standby")
    positions = {
        name: members[name].get("receive_lsn")
        for name in standbys
        if members[name].get("receive_lsn") and is_valid_lsn(members[name]["receive_lsn"])
    }
    plan = {"target": None, "old": [], "writable": writable, "positions": positions, "refusal": ""}
    if len(writable) > 1:
        plan["refusal"] = (
            f"two primaries accept writes ({', '.join(writable)}): no failover. Decide which one holds the data to "
            "keep and stop the other first."
        )
        return plan
    if writable and not force:
        plan["refusal"] = (
            f"{writable[0]} answers and accepts writes: a failover now would leave two primaries. Use "
            "playbooks/switchover.yml for a planned change, or pass failover_force=true if you know that "
            f"{writable[0]} is cut off from its clients (it is then stopped before the promotion)."
        )
        return plan
    if requested:
        if requested not in standbys:
            plan["refusal"] = (
                f"{requested} is not a running standby that answers "
                f"(running standbys: {', '.join(standbys) or 'none'})."
            )
            return plan
        target = requested
    elif standbys:
        target = max(standbys, key=lambda name: (parse_lsn(positions[name]) if name in positions else -1, name))
    else:
        plan["refusal"] = "no running standby answers: there is nothing to promote. Restore from the backups instead."
        return plan
    plan["target"] = target
    plan["old"] = sorted(n for n in members if n != target and members[n].get("state") != "running-standby")
    return plan


class FilterModule:
    def filters(self):
        return {"failover_plan": failover_plan}
