# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Say whether a Patroni cluster is healthy enough to restart one of its members (GET /cluster)."""

DOCUMENTATION = r"""
name: patroni_cluster_check
short_description: Say whether a Patroni cluster is healthy enough to restart one of its members now
version_added: 0.1.0
author: opsforge developers (@opsforge)
description:
  - Takes the members' answers to C(GET /cluster) on Patroni's REST API (the results of an
    M(ansible.builtin.uri) loop over the members, or a list of one answer) and uses the first that answered.
    Members are matched to Patroni's member names by their slot name (P(opsforge.webstack.slot_name#filter)).
  - The refusal is the first that applies of no member answering, Patroni's cluster paused or with a switchover
    scheduled, no leader or more than one, a leader not running, a member of O(members) that Patroni does not
    know, a member Patroni knows outside O(members), and a member other than the leader that is not a replica
    streaming from it on its timeline within O(max_lag_bytes).
  - The patch role's pre-check refuses such a cluster, and waits with it after restarting each member.
extends_documentation_fragment:
  - opsforge.webstack.cluster
  - opsforge.webstack.cluster.patroni
options:
  max_lag_bytes:
    description: The most a replica may lag behind the leader in Patroni's view.
    type: int
    default: 16777216
"""

EXAMPLES = r"""
- name: Check the cluster before patching it
  ansible.builtin.set_fact:
    _check: "{{ postgresql_patroni_cluster.results | opsforge.webstack.patroni_cluster_check(groups['postgres']) }}"
"""

RETURN = r"""
_value:
  description:
    - C(leader) (the inventory name of Patroni's leader, empty when there is none), C(members) (Patroni's member
      name to C(role/state lag timeline), for messages), C(nofailover) (the inventory names of the members tagged
      C(nofailover), which never take the leader key) and C(refusal) (empty when the cluster is healthy).
  type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.slot_name import slot_name
from ansible_collections.opsforge.webstack.plugins.module_utils.patroni import (
    first_answer,
    health_refusal,
    no_answer_refusal,
)


def patroni_cluster_check(answers, members, max_lag_bytes=16777216):
    """Patroni's leader (inventory name), its members and the refusal ('' when healthy) (pure)."""
    if not isinstance(answers, list) or not isinstance(members, list):
        raise AnsibleFilterError("patroni_cluster_check expects the list of GET /cluster results and the members")
    try:
        limit = int(max_lag_bytes)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError(
            f"patroni_cluster_check: max_lag_bytes must be an integer, not {max_lag_bytes!r}"
        ) from exc
    names = dict(zip(slot_name(members), members))
    cluster = first_answer(answers)
    if cluster is None:
        return {"leader": "", "members": {}, "nofailover": [], "refusal": no_answer_refusal(answers)}
    patroni_members = cluster.get("members") or []
    leader = next((m.get("name") for m in patroni_members if m.get("role") == "leader"), "")
    return {
        "leader": names.get(leader, leader),
        "members": {
            m.get("name"): f"{m.get('role')}/{m.get('state')} lag {m.get('lag', 0)} timeline {m.get('timeline')}"
            for m in patroni_members
        },
        "nofailover": sorted(
            names.get(m.get("name"), m.get("name")) for m in patroni_members if (m.get("tags") or {}).get("nofailover")
        ),
        "refusal": health_refusal(cluster, list(names), limit),
    }


class FilterModule:
    """Patroni's cluster health, before and while its members are restarted."""

    def filters(self):
        return {"patroni_cluster_check": patroni_cluster_check}
