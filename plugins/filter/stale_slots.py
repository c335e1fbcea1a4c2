# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The replication slots on a primary that belonged to members no longer in the inventory."""

DOCUMENTATION = r"""
name: stale_slots
short_description: The slots of former cluster members on a primary
version_added: 0.1.0
author: opsforge developers (@opsforge)
description:
  - Decides which replication slots of a primary belonged to members that left the inventory, from the
    slots the server has, the members now and the slot names the postgresql role recorded for the members
    it has known on that host.
  - A slot is a former member's only when it is physical and its name is one the role recorded and no
    current member's slot name (P(opsforge.webstack.slot_name#filter)). Logical slots and slots the role never made
    (another tool's, the switchover's) are never returned.
options:
  _input:
    description: The primary's slots as RV(opsforge.webstack.pg_replication_info#module:slots) returns them.
    type: list
    elements: dict
    required: true
  members:
    description: The inventory names of the cluster's members now.
    type: list
    elements: str
    required: true
  known:
    description: The slot names the role has kept for members so far.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: What to do with the slots of former members
  ansible.builtin.debug:
    msg: "{{ __repl.slots | opsforge.webstack.stale_slots(groups['postgres'], ['lab_db1', 'lab_db2', 'lab_db3']) }}"
"""

RETURN = r"""
_value:
  description: What to do.
  type: dict
  contains:
    drop:
      description: The former members' slots no client uses (pg_replication_info's entries); drop them.
      type: list
      elements: dict
    busy:
      description: The former members' slots a client still streams from; they cannot be dropped yet.
      type: list
      elements: dict
    record:
      description: The slot names to remember from now on, sorted; the members' and the busy ones.
      type: list
      elements: str
  sample: {"drop": [{"name": "lab_db3", "type": "physical", "active": false, "retained_bytes": 16777216}],
           "busy": [], "record": ["lab_db1", "lab_db2"]}
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.slot_name import slot_name


def stale_slots(slots, members, known):
    """{drop, busy, record} for the slots of members no longer in the inventory (pure)."""
    if isinstance(slots, (str, bytes, Mapping)) or not all(isinstance(slot, Mapping) for slot in slots):
        raise AnsibleFilterError(f"stale_slots expects the slots of pg_replication_info, got {slots!r}")
    if isinstance(known, (str, bytes)) or isinstance(members, (str, bytes)):
        raise AnsibleFilterError("stale_slots expects lists of members and of known slot names")
    current = set(slot_name(list(members)))
    former = set(known) - current
    stale = [slot for slot in slots if slot.get("type") == "physical" and slot.get("name") in former]
    busy = [slot for slot in stale if slot.get("active")]
    return {
        "drop": [slot for slot in stale if not slot.get("active")],
        "busy": busy,
        "record": sorted(current | {slot["name"] for slot in busy}),
    }


class FilterModule:
    """The slots of former members."""

    def filters(self):
        return {"stale_slots": stale_slots}
