# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Redis instances that Celery uses as its broker and that could evict its messages."""

DOCUMENTATION = r"""
name: redis_eviction_risks
short_description: The Redis instances where Celery's messages could be evicted
version_added: 0.1.0
author: opsforge developers (@opsforge)
description:
  - Returns the instances that let one of Celery's ACL users in and whose eviction policy is not
    C(noeviction); at their memory limit Redis would delete keys, queued tasks among them.
options:
  _input:
    description: The instances as P(opsforge.webstack.redis_instances#filter) fills them.
    type: list
    elements: dict
    required: true
  broker_users:
    description: The ACL users Celery connects as.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Refuse eviction where Celery queues
  ansible.builtin.assert:
    that: _redis_instances | opsforge.webstack.redis_eviction_risks(['celery']) | length == 0
"""

RETURN = r"""
_value:
  description: The instances at risk, each with C(broker_users), the users of O(broker_users) it lets in.
  type: list
  elements: dict
  sample: [{"name": "main", "port": 6379, "users": ["app", "celery", "admin"], "maxmemory_policy": "allkeys-lru",
            "broker_users": ["celery"]}]
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def redis_eviction_risks(instances, broker_users):
    """The instances that let a broker user in and may evict its keys, with the users concerned (pure)."""
    if isinstance(broker_users, (str, bytes)):
        raise AnsibleFilterError(f"redis_eviction_risks expects a list of user names, got {broker_users!r}")
    risks = []
    for instance in instances:
        if not isinstance(instance, Mapping):
            raise AnsibleFilterError(f"redis_eviction_risks expects filled instances, got {instance!r}")
        concerned = [user for user in instance["users"] if user in broker_users]
        if concerned and instance["maxmemory_policy"] != "noeviction":
            risks.append({**instance, "broker_users": concerned})
    return risks


class FilterModule:
    """Eviction where Celery queues."""

    def filters(self):
        return {"redis_eviction_risks": redis_eviction_risks}
