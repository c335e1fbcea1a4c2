# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decide whether playbooks/ha_mode.yml moves a PostgreSQL cluster between the manual and the Patroni mode."""

DOCUMENTATION = r"""
name: ha_mode_plan
short_description: Decide whether a PostgreSQL cluster is moved between the manual mode and the Patroni mode
version_added: 0.1.0
author: opsforge developers (@opsforge)
description:
  - Takes the wanted mode, what each member runs (Debian's C(postgresql@) unit, Patroni's C(patroni@) unit,
    Patroni's configuration file), the primary read from the servers, the replicas the primary streams to, and
    the hosts' Debian releases, and says what C(playbooks/ha_mode.yml) does, before any host is changed.
  - The refusal is the first that applies of an unknown mode; a member that runs no server; members not all in
    one mode in a way no move leaves them (the steps of a move happen in one order, so what runs each server says
    where a move stopped), or left mid-way by a move the other way (finish that one first); no single primary; a
    member other than the primary not streaming from it or further behind than O(max_lag_bytes) (but for a replica
    that Patroni still runs in a move back that goes on, since with the leader moved it follows nobody); a replication
    slot on the primary that is no member's (Patroni mode only, since Patroni drops it once it leads); fewer than
    three, or an even number of, etcd members (Patroni mode only); hosts on different Debian releases.
  - A cluster that a move in the wanted direction left mid-way (the playbook or its controller stopped) is moved on;
    each member gets the steps it has not had (C(steps)), from the same checks.
  - A cluster already in the wanted mode is never refused for its lag, since nothing is changed.
options:
  _input:
    description: Each member's state, by inventory name, as the postgresql role's C(ha_mode_state) entry point
      reads it (C(manual), C(patroni), C(patroni_config), booleans).
    type: dict
    required: true
  target:
    description: The wanted mode, V(patroni) or V(manual).
    type: str
    required: true
  primary:
    description: The primary read from the servers (the postgresql role's topology), empty when there is none.
    type: str
    required: true
  replicas:
    description: The primary's replicas (the C(replicas) of M(opsforge.webstack.pg_replication_info)), with
      C(application_name) (the member's slot name), C(state) and C(lag_bytes).
    type: list
    elements: dict
  etcd_members:
    description: The hosts of the etcd group.
    type: list
    elements: str
  slots:
    description: The primary's replication slots (the C(slots) of M(opsforge.webstack.pg_replication_info)), with
      C(name) and C(type).
    type: list
    elements: dict
  releases:
    description: Each member's and etcd host's Debian release (C(ansible_facts.distribution_release)), by inventory
      name.
    type: dict
  max_lag_bytes:
    description: The most a replica may be behind the primary.
    type: int
    default: 16777216
"""

EXAMPLES = r"""
- name: Decide
  ansible.builtin.set_fact:
    _plan: >-
      {{ states | opsforge.webstack.ha_mode_plan('patroni', postgresql_topology.primary,
           replicas=info.replicas, etcd_members=groups['etcd'], releases=releases) }}
"""

RETURN = r"""
_value:
  description:
    - C(current) (V(manual), V(patroni) or V(mixed)), C(action) (V(none) when the cluster is in the wanted mode,
      V(move) otherwise), C(refusal) (empty when the move, or nothing, may go ahead), C(resume) (true when a move
      that stopped half-way goes on) and C(steps) (by member, the steps of C(playbooks/ha_mode.yml) it still needs,
      V(adopt) and V(handover) to Patroni; V(nofailover), V(leader), V(replica) and V(forget) back).
  type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.slot_name import slot_name

MODES = ("patroni", "manual")
WHAT_TO_DO_MIDWAY = (
    "Bring every member back to one mode by hand first (roles/postgresql/README.md, 'Moving between the modes': "
    "which unit to stop and which to start), then run this again."
)
# What a move leaves on a replica while the primary is where the move's order puts it (member_mode's names): to
# Patroni, the primary is adopted first ("both": Patroni beside Debian's unit) and handed over last; back to the
# manual mode, the replicas are tagged, then the leader moves ("manual+config"), then the replicas, then every
# member forgets Patroni.
MIDWAY_REPLICAS = {
    "patroni": {"manual", "manual+config", "both", "patroni"},
    "manual": {"patroni", "manual+config", "manual"},
}


def member_mode(state):
    """What runs a member's server: manual, patroni, both, none, or manual with Patroni's configuration left (pure)."""
    manual, patroni = bool(state.get("manual")), bool(state.get("patroni"))
    if manual and patroni:
        return "both"
    if patroni:
        return "patroni"
    if manual:
        return "manual+config" if state.get("patroni_config") else "manual"
    return "none"


def replica_refusals(members, primary, replicas, max_lag_bytes):
    """The members other than the primary that do not stream from it within the lag limit (pure)."""
    by_slot = {r.get("application_name"): r for r in replicas}
    problems = []
    for member in members:
        if member == primary:
            continue
        replica = by_slot.get(slot_name(member))
        if replica is None or replica.get("state") != "streaming":
            state = "not connected" if replica is None else replica.get("state")
            problems.append(f"{member} does not stream from {primary} ({state})")
        elif replica.get("lag_bytes") is not None and int(replica["lag_bytes"]) > max_lag_bytes:
            problems.append(f"{member} is {replica['lag_bytes']} bytes behind (ha_mode_max_lag_bytes={max_lag_bytes})")
    return problems


def foreign_slots(members, slots):
    """The slots that are no member's: Patroni (use_slots) drops them when it leads (pure)."""
    own = set(slot_name(sorted(members)))
    return sorted(f"{slot.get('name')} ({slot.get('type')})" for slot in slots if slot.get("name") not in own)


def interrupted_move(modes, primary):
    """The mode a move that stopped half-way was heading for: patroni, manual, either, or '' (pure).

    either: only the primary holds Patroni's configuration and no Patroni runs, as a move to Patroni leaves it when
    it stops before Patroni starts, and a move back when it stops as the primary forgets Patroni.
    """
    lead = modes.get(primary)
    replicas = {mode for member, mode in modes.items() if member != primary}
    if lead == "both" and replicas <= MIDWAY_REPLICAS["patroni"]:
        return "patroni"
    if lead == "manual+config" and replicas <= MIDWAY_REPLICAS["manual"]:
        return "manual" if replicas & {"patroni", "manual+config"} else "either"
    # The primary forgets Patroni last of the steps back, beside the replicas, whose servers moved before.
    if lead == "manual" and replicas <= {"manual+config", "manual"} and "manual+config" in replicas:
        return "manual"
    return ""


def steps_left(modes, primary, target):
    """By member, the steps of playbooks/ha_mode.yml it still needs to reach the target mode (pure)."""
    if target == "patroni":
        return {member: [] if mode == "patroni" else ["adopt", "handover"] for member, mode in modes.items()}
    steps = {}
    for member, mode in modes.items():
        if mode == "patroni":
            steps[member] = ["leader", "forget"] if member == primary else ["nofailover", "replica", "forget"]
        else:
            steps[member] = ["forget"] if mode == "manual+config" else []
    return steps


def ha_mode_plan(
    states, target, primary, replicas=None, etcd_members=None, releases=None, max_lag_bytes=16777216, slots=None
):
    """current, action and refusal ('' when the run may go ahead) (pure)."""
    if not isinstance(states, dict) or not states:
        raise AnsibleFilterError("ha_mode_plan expects each member's state, by inventory name")
    if target not in MODES:
        return {
            "current": "",
            "action": "none",
            "refusal": f"ha_mode must be patroni or manual, not {target!r}. Nothing was changed.",
            "resume": False,
            "steps": {},
        }
    modes = {member: member_mode(state or {}) for member, state in states.items()}
    named = ", ".join(f"{m} {mode}" for m, mode in sorted(modes.items()))
    down = sorted(m for m, mode in modes.items() if mode == "none")
    if down:
        return {
            "current": "mixed",
            "action": "none",
            "refusal": (
                f"{', '.join(down)} run(s) no server (neither postgresql@ nor patroni@ is active). Start it in the "
                "cluster's current mode and let it catch up, then run this again. Nothing was changed."
            ),
            "resume": False,
            "steps": {},
        }
    current = next(iter(modes.values())) if len(set(modes.values())) == 1 else "mixed"
    if current == target:
        return {"current": current, "action": "none", "refusal": "", "resume": False, "steps": {}}
    resume = current not in MODES
    if resume:
        current = "mixed"
        # Without a single primary the refusals below say so; where the move stopped matters no more.
        heading = interrupted_move(modes, primary) if primary else target
        midway = (
            f"the cluster is mid-way between the modes ({named}; 'both': postgresql@ and patroni@ are active, "
            "'manual+config': Patroni's configuration is left beside postgresql@)"
        )
        if not heading:
            refusal = f"{midway}, which no move of this playbook leaves. {WHAT_TO_DO_MIDWAY} Nothing was changed."
            return {"current": current, "action": "none", "refusal": refusal, "resume": False, "steps": {}}
        if heading not in (target, "either"):
            refusal = (
                f"{midway}, as a move to the {heading} mode leaves it when it stops half-way. Finish that move first "
                f"(-e ha_mode={heading}), then run this again. Nothing was changed."
            )
            return {"current": current, "action": "none", "refusal": refusal, "resume": False, "steps": {}}
    refusals = []
    if not primary:
        refusals.append("the cluster has no single primary (see the topology step's message)")
    else:
        # Back, once the leader moved, a replica Patroni still runs follows nobody (Patroni has no leader to point it
        # at): its replica step points it at the primary, from its own data.
        waiting = {m for m, mode in modes.items() if resume and target == "manual" and mode == "patroni"}
        streaming = sorted(set(states) - waiting)
        refusals.extend(replica_refusals(streaming, primary, replicas or [], int(max_lag_bytes)))
    foreign = foreign_slots(states, slots or [])
    if target == "patroni" and foreign:
        refusals.append(
            f"the primary holds replication slots that are no member's ({', '.join(foreign)}): Patroni drops them "
            "once it leads. Drop them (or move the client that uses them elsewhere) before the move"
        )
    etcd = list(etcd_members or [])
    if target == "patroni" and (len(etcd) < 3 or len(etcd) % 2 == 0):
        refusals.append(
            f"the etcd group has {len(etcd)} host(s) ({', '.join(etcd) or 'none'}): Patroni needs an odd number, "
            "at least three, so that the loss of one keeps a quorum"
        )
    distinct = sorted(set((releases or {}).values()))
    if len(distinct) > 1:
        refusals.append(
            "the hosts run different Debian releases ("
            + ", ".join(f"{h} {r}" for h, r in sorted((releases or {}).items()))
            + "): move the cluster once every host runs the same one"
        )
    return {
        "current": current,
        "action": "move",
        "refusal": "; ".join(refusals) + (". Nothing was changed." if refusals else ""),
        "resume": resume,
        "steps": steps_left(modes, primary, target),
    }


class FilterModule:
    """The decision of playbooks/ha_mode.yml."""

    def filters(self):
        return {"ha_mode_plan": ha_mode_plan}
