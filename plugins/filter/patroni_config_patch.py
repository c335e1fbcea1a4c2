# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a running Patroni cluster's dynamic configuration lacks of the one the inventory asks for."""

DOCUMENTATION = r"""
name: patroni_config_patch
short_description: The body of a PATCH /config that brings Patroni's dynamic configuration to the wanted one
version_added: 0.1.0
author: opsforge developers (@opsforge)
description:
  - Patroni writes its C(bootstrap.dcs) section to etcd only when the cluster is first built; afterwards the cluster
    keeps what etcd holds, whatever its members' configuration files say. This filter compares what the cluster holds
    (its REST API's C(GET /config)) with what the inventory asks for, and returns the keys that differ, nested as
    Patroni's C(PATCH /config) merges them (C(postgresql.parameters) key by key).
  - Values compare as text, as Patroni's C(PATCH /config) compares them (C(30) and C("30") are the same setting).
  - Keys the cluster holds and the wanted configuration does not name are left alone (Patroni's own, or an
    operator's C(patronictl edit-config)); nothing is removed, so a setting taken out of the wanted configuration
    stays in the cluster until it is removed there.
options:
  _input:
    description: The cluster's dynamic configuration, as C(GET /config) returns it.
    type: dict
    required: true
  wanted:
    description: The dynamic configuration the inventory asks for (the postgresql role's C(bootstrap.dcs)).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: What to change in the running cluster
  ansible.builtin.debug:
    msg: "{{ __config.json | opsforge.webstack.patroni_config_patch({'ttl': 30, 'synchronous_mode': true}) }}"
"""

RETURN = r"""
_value:
  description: The keys to send with C(PATCH /config), with their wanted values; empty when the cluster has them all.
  type: dict
  sample: {"synchronous_mode": true, "postgresql": {"parameters": {"max_connections": 200}}}
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def patroni_config_patch(current, wanted):
    """The part of WANTED that CURRENT does not hold, nested by mapping (pure)."""
    if not isinstance(current, Mapping) or not isinstance(wanted, Mapping):
        raise AnsibleFilterError(
            f"patroni_config_patch expects two mappings (GET /config's answer, the wanted configuration), got "
            f"{type(current).__name__} and {type(wanted).__name__}"
        )
    patch = {}
    for key, value in wanted.items():
        held = current.get(key)
        if isinstance(value, Mapping) and isinstance(held, Mapping):
            nested = patroni_config_patch(held, value)
            if nested:
                patch[key] = nested
        elif key not in current or str(held) != str(value):
            # Compared as text, as Patroni's own PATCH compares them: 30 and "30" are one setting to Patroni (a cluster
            # built by an older ansible-core holds strings), True and 1 are not.
            patch[key] = value
    return patch


class FilterModule:
    """The dynamic configuration a running Patroni cluster lacks."""

    def filters(self):
        return {"patroni_config_patch": patroni_config_patch}
