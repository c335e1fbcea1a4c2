# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check a planned switchover against Patroni's view of the cluster (GET /cluster), before anything is paused."""

DOCUMENTATION = r"""
name: patroni_switchover_check
short_description: Say whether Patroni would switch over from the primary to the chosen target now
version_added: 0.1.0
author: opsforge developers (@opsforge)
description:
  - Takes the members' answers to C(GET /cluster) on Patroni's REST API (the results of an
    M(ansible.builtin.uri) loop over the members) and uses the first that answered. Members are matched to
    Patroni's member names by their slot name (P(opsforge.webstack.slot_name#filter)), which is the name the
    postgresql role gives each member in Patroni's configuration.
  - The refusal is the first that applies of no member answering, Patroni's cluster paused or with a switchover
    scheduled, no leader, a standby cluster, a leader other than the server running as the primary, a leader not
    running, and a target that is not a replica of Patroni's cluster, not streaming, tagged C(nofailover), lagging
    more than O(max_lag_bytes), on another timeline, or not a synchronous standby in synchronous mode.
extends_documentation_fragment:
  - opsforge.webstack.cluster
  - opsforge.webstack.cluster.patroni
options:
  primary:
    description: The member that runs as the primary (the postgresql role's topology).
    type: str
    required: true
  target:
    description: The member to switch over to.
    type: str
    required: true
  max_lag_bytes:
    description: The most the target may lag behind in Patroni's view.
    type: int
    default: 16777216
"""

EXAMPLES = r"""
- name: Check the plan against Patroni
  ansible.builtin.set_fact:
    _check: >-
      {{ __cluster.results | opsforge.webstack.patroni_switchover_check(groups['postgres'], 'db1', 'db2') }}
"""

RETURN = r"""
_value:
  description:
    - C(leader) and C(candidate) (Patroni's member names of the primary and the target), C(leader_api) (the REST
      API root of the leader, from Patroni's C(api_url)), C(apis) (each inventory member's REST API root that
      Patroni lists), C(members) (member name to C(role/state), for messages)
      and C(refusal) (empty when Patroni would switch over now).
  type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.slot_name import slot_name
from ansible_collections.opsforge.webstack.plugins.module_utils.patroni import (
    api_base,
    first_answer,
    no_answer_refusal,
    switchover_refusal,
)


def patroni_switchover_check(answers, members, primary, target, max_lag_bytes=16777216):
    """Patroni's names of the primary and the target, the leader's API, and the refusal ('' when safe) (pure)."""
    if not isinstance(answers, list) or not isinstance(members, list):
        raise AnsibleFilterError("patroni_switchover_check expects the list of GET /cluster results and the members")
    names = dict(zip(members, slot_name(members)))
    check = {
        "leader": names.get(primary, primary),
        "candidate": names.get(target, target),
        "leader_api": "",
        "apis": {},
    }
    cluster = first_answer(answers)
    if cluster is None:
        return {**check, "members": {}, "refusal": no_answer_refusal(answers)}
    patroni_members = cluster.get("members") or []
    check["members"] = {m.get("name"): f"{m.get('role')}/{m.get('state')}" for m in patroni_members}
    refusal = switchover_refusal(cluster, check["leader"], check["candidate"], int(max_lag_bytes))
    outsiders = sorted(set(check["members"]) - set(names.values()))
    if not refusal and outsiders:
        refusal = (
            f"Patroni's cluster has members that are not in the inventory's group ({', '.join(outsiders)}): "
            "their PgBouncer hosts and slots are unknown here. Add them to the group or remove them from Patroni."
        )
    leader = next((m for m in patroni_members if m.get("name") == check["leader"]), {})
    check["leader_api"] = api_base(leader.get("api_url") or "")
    api_urls = {m.get("name"): m.get("api_url") for m in patroni_members if m.get("api_url")}
    check["apis"] = {member: api_base(api_urls[name]) for member, name in names.items() if name in api_urls}
    check["refusal"] = refusal
    return check


class FilterModule:
    """Switchover planning in Patroni mode."""

    def filters(self):
        return {"patroni_switchover_check": patroni_switchover_check}
