# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fill in the keys an entry of a list of dicts leaves out."""

DOCUMENTATION = r"""
name: with_defaults
short_description: Fill every entry of a list of dicts with default values
version_added: 0.1.0
author: opsforge developers (@opsforge)
description:
  - Returns a new list in which every entry is the defaults updated with the entry, so that a key the entry
    sets wins and a key it leaves out has its default. The input is left alone.
options:
  _input:
    description: A list of dicts, for example the users or databases of a role.
    type: list
    elements: dict
    required: true
  defaults:
    description:
      - The value of every key an entry leaves out.
      - A key an entry sets keeps the entry's value, even when that value is null.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Every user with every key
  ansible.builtin.debug:
    msg: "{{ redis_users | opsforge.webstack.with_defaults({'keys': '', 'commands': ''}) }}"
"""

RETURN = r"""
_value:
  description: The entries with their defaults filled in.
  type: list
  elements: dict
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def with_defaults(entries, defaults):
    """[defaults | entry for every entry] (pure)."""
    if not isinstance(defaults, Mapping):
        raise AnsibleFilterError(f"with_defaults expects a dict of defaults, got {defaults!r}")
    if isinstance(entries, (str, bytes, Mapping)) or not hasattr(entries, "__iter__"):
        raise AnsibleFilterError(f"with_defaults expects a list of dicts, got {entries!r}")
    filled = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise AnsibleFilterError(f"with_defaults expects a list of dicts, got the entry {entry!r}")
        filled.append({**defaults, **entry})
    return filled


class FilterModule:
    """Default-filling of lists of dicts."""

    def filters(self):
        return {"with_defaults": with_defaults}
