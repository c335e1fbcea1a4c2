# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The replication slot (and application_name) a cluster member's inventory name stands for."""

DOCUMENTATION = r"""
name: slot_name
short_description: The replication slot name of a cluster member
version_added: 0.1.0
author: opsforge developers (@opsforge)
description:
  - Turns an inventory host name into the name of its physical replication slot, which is also the
    C(application_name) it streams with and its name in C(synchronous_standby_names); every character
    other than a letter, a digit or C(_) becomes C(_), and the result is lower case.
  - Given a list, returns the list of slot names in the same order.
options:
  _input:
    description: A host name, or a list of host names.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: The slot of every other member
  ansible.builtin.debug:
    msg: "{{ groups['postgres'] | difference([inventory_hostname]) | opsforge.webstack.slot_name }}"
"""

RETURN = r"""
_value:
  description: The slot name, or the list of slot names.
  type: raw
  sample: lab_db2
"""

import re

from ansible.errors import AnsibleFilterError

_NOT_ALLOWED = re.compile(r"[^a-zA-Z0-9_]")


def slot_name(host):
    """The slot name of one host name, or of each of a list of them (pure)."""
    if isinstance(host, (list, tuple)):
        return [slot_name(item) for item in host]
    if not isinstance(host, str) or not host:
        raise AnsibleFilterError(f"slot_name expects a host name or a list of them, got {host!r}")
    return _NOT_ALLOWED.sub("_", host).lower()


class FilterModule:
    """Replication slot names."""

    def filters(self):
        return {"slot_name": slot_name}
