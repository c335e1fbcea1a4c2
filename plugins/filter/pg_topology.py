# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Work out which member of a PostgreSQL cluster is the primary from what each member reports, and whether what runs
each member's server is the mode the inventory gives it.

pg_topology is documented here, pg_mode_mismatch in pg_mode_mismatch.yml beside this file.
"""

DOCUMENTATION = r"""
name: pg_topology
short_description: Decide the primary of a PostgreSQL cluster from its members' states
version_added: 0.1.0
author: opsforge developers (@opsforge)
description:
  - Takes the state each member reported (C(absent), C(running-primary), C(running-standby),
    C(stopped-primary), C(stopped-standby)) and returns which member is the primary, which are
    standbys, whether the cluster is being built for the first time, and an error when no safe
    answer exists (two primaries, standbys without a primary).
  - The states are those M(opsforge.webstack.pg_node_state) reports.
  - A running primary wins over a stopped one, which is a former primary waiting to rejoin.
options:
  _input:
    description: A dictionary of member name to reported state.
    type: dict
    required: true
  bootstrap_primary:
    description: The member that becomes primary when no member has data yet.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Decide the primary
  ansible.builtin.set_fact:
    postgresql_topology: "{{ members | opsforge.webstack.pg_topology('db1') }}"
  vars:
    members: {db1: running-primary, db2: running-standby}
"""

RETURN = r"""
_value:
  description: C(primary), C(standbys), C(bootstrap) (bool), C(states) and C(error) (null when there is none).
  type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.module_utils.member_state import STATES


def pg_topology(states, bootstrap_primary):
    """Return the cluster's primary, its standbys and any error that stops a safe decision."""
    if not isinstance(states, dict) or not states:
        raise AnsibleFilterError("pg_topology expects a non-empty dict of member name to state")
    unknown = {name: state for name, state in states.items() if state not in STATES}
    if unknown:
        raise AnsibleFilterError(f"pg_topology: unknown member states {unknown}; expected one of {', '.join(STATES)}")
    if bootstrap_primary not in states:
        members_list = ", ".join(sorted(states))
        raise AnsibleFilterError(f"pg_topology: bootstrap primary '{bootstrap_primary}' is not one of {members_list}")

    def members(*wanted):
        return sorted(name for name, state in states.items() if state in wanted)

    running_primaries = members("running-primary")
    stopped_primaries = members("stopped-primary")
    result = {"states": dict(states), "bootstrap": False, "error": None, "primary": None}
    if len(running_primaries) > 1:
        result["error"] = (
            f"two primaries accept writes: {', '.join(running_primaries)}. Decide which one holds the data to keep, "
            "stop the other, and rejoin it as a standby (playbooks/switchover.yml or pg_standby with "
            "stop_running_primary) before running this again."
        )
    elif running_primaries:
        result["primary"] = running_primaries[0]
    elif len(stopped_primaries) > 1:
        result["error"] = (
            f"no primary runs and several stopped members were primaries: {', '.join(stopped_primaries)}. "
            "Start the one that holds the newest data by hand, then run this again."
        )
    elif stopped_primaries:
        result["primary"] = stopped_primaries[0]
    elif members("running-standby", "stopped-standby"):
        result["error"] = (
            f"standbys {', '.join(members('running-standby', 'stopped-standby'))} have no primary. Promote the most "
            "recent standby (opsforge.webstack.pg_promote), then run this again."
        )
    else:
        result["primary"] = bootstrap_primary
        result["bootstrap"] = True
    result["standbys"] = sorted(name for name in states if name != result["primary"]) if result["primary"] else []
    return result


# The unit each mode runs a server under (the postgresql role's _postgresql_manual_unit, _postgresql_patroni_unit).
MODE_UNITS = {"none": "postgresql@", "patroni": "patroni@"}


def pg_mode_mismatch(services, modes):
    """One line per member whose server runs under the other mode's unit than its postgresql_ha says."""
    if not isinstance(services, dict) or not isinstance(modes, dict):
        raise AnsibleFilterError("pg_mode_mismatch expects a dict of member to service and a dict of member to mode")
    mismatches = []
    for member, service in sorted(services.items()):
        mode = modes.get(member, "none")
        if mode not in MODE_UNITS:
            raise AnsibleFilterError(f"pg_mode_mismatch: {member} has postgresql_ha {mode!r}, not none or patroni")
        others = [unit for other, unit in MODE_UNITS.items() if other != mode]
        if service and any(service.startswith(unit) for unit in others):
            mismatches.append(f"{member}'s server runs under {service} but postgresql_ha is {mode} for it")
    return mismatches


class FilterModule:
    """PostgreSQL cluster filters."""

    def filters(self):
        return {"pg_topology": pg_topology, "pg_mode_mismatch": pg_mode_mismatch}
