# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    # The members of the cluster that the switchover and Patroni filters judge.
    DOCUMENTATION = r"""
options:
  members:
    description: The inventory names of the cluster's members.
    type: list
    elements: str
    required: true
"""

    # The input of the Patroni filters (opsforge.webstack.cluster.patroni): each member's answer to GET /cluster.
    PATRONI = r"""
options:
  _input:
    description: The results of the C(GET /cluster) requests, dicts with C(item) (the member), C(status) and C(json).
    type: list
    elements: dict
    required: true
"""
