#!/usr/bin/python
# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)


DOCUMENTATION = r"""
module: systemd_units
short_description: Enable and start, or stop and disable, several systemd units in one call
version_added: 0.1.0
description:
  - Reads the state of every unit with one C(systemctl show), then enables, starts, stops or disables only
    those that need it, each action one C(systemctl) call for all of them.
  - The roles use it where a host runs several units of one kind (the exporters, the backup timers).
    M(ansible.builtin.systemd_service) makes one module call per unit, each with several C(systemctl) calls
    of its own, even when nothing changes.
  - A unit that is not installed, or is masked, fails the task before anything is changed, with its name.
author:
  - opsforge developers (@opsforge)
attributes:
  check_mode:
    support: full
    description: Reads the units' state and reports what would change.
extends_documentation_fragment:
  - opsforge.webstack.attributes
options:
  units:
    description: Unit names, with their suffix (V(prometheus-node-exporter.service), V(backup-full.timer)).
    type: list
    elements: str
    required: true
  state:
    description:
      - V(started) starts the units that are not active or activating; V(stopped) stops those that are.
      - Left out, the units are neither started nor stopped.
    type: str
    choices: [started, stopped]
  enabled:
    description:
      - V(true) enables the units that are disabled; V(false) disables those that are enabled. Static units
        have nothing to enable and are left as they are.
      - Left out, the units are neither enabled nor disabled.
    type: bool
seealso:
  - module: ansible.builtin.systemd_service
"""

EXAMPLES = r"""
- name: Start the exporters, and at boot
  opsforge.webstack.systemd_units:
    units: [prometheus-node-exporter.service, prometheus-node-exporter-apt.timer]
    state: started
    enabled: true
"""

RETURN = r"""
enabled:
  description: The units enabled (or that would be, in check mode).
  returned: always
  type: list
  elements: str
disabled:
  description: The units disabled (or that would be).
  returned: always
  type: list
  elements: str
started:
  description: The units started (or that would be).
  returned: always
  type: list
  elements: str
stopped:
  description: The units stopped (or that would be).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

PROPERTIES = ("Id", "LoadState", "ActiveState", "UnitFileState")
RUNNING = {"active", "activating", "reloading"}


def parse_show(output: str, units: list[str]) -> dict[str, dict[str, str]]:
    """{unit: {property: value}} from `systemctl show -p ... UNIT...`: one block per unit, in the order asked."""
    blocks = [block for block in output.strip().split("\n\n") if block.strip()]
    if len(blocks) != len(units):
        raise ValueError(f"systemctl show returned {len(blocks)} blocks for {len(units)} units")
    states = {}
    for unit, block in zip(units, blocks):
        states[unit] = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
    return states


def problems(states: dict[str, dict[str, str]]) -> list[str]:
    """Units that cannot be acted on, each with what to do."""
    found = []
    for unit, state in states.items():
        if state.get("LoadState") == "not-found":
            found.append(f"{unit} is not installed (no unit file): install its package or fix the name")
        elif state.get("LoadState") == "masked" or state.get("UnitFileState", "").startswith("masked"):
            found.append(f"{unit} is masked: unmask it (systemctl unmask {unit}) if it should run")
    return found


def plan(states: dict[str, dict[str, str]], state, enabled) -> dict[str, list[str]]:
    """Which units to enable, disable, start and stop, in the order given."""
    actions = {"enabled": [], "disabled": [], "started": [], "stopped": []}
    for unit, current in states.items():
        file_state = current.get("UnitFileState", "")
        if enabled is True and file_state == "disabled":
            actions["enabled"].append(unit)
        elif enabled is False and file_state in ("enabled", "enabled-runtime"):
            actions["disabled"].append(unit)
        running = current.get("ActiveState") in RUNNING
        if state == "started" and not running:
            actions["started"].append(unit)
        elif state == "stopped" and running:
            actions["stopped"].append(unit)
    return actions


def main():
    module = AnsibleModule(
        argument_spec={
            "units": {"type": "list", "elements": "str", "required": True},
            "state": {"type": "str", "choices": ["started", "stopped"]},
            "enabled": {"type": "bool"},
        },
        required_one_of=[("state", "enabled")],
        supports_check_mode=True,
    )
    units = module.params["units"]
    if not units:
        module.fail_json(msg="units is empty: name at least one unit")
    if len(set(units)) != len(units):
        module.fail_json(msg="units names a unit twice: name each once")
    systemctl = module.get_bin_path("systemctl", required=True)

    rc, out, err = module.run_command([systemctl, "show", "--property=" + ",".join(PROPERTIES), "--", *units])
    if rc != 0:
        module.fail_json(msg=f"systemctl show failed: {err.strip()}", rc=rc)
    try:
        states = parse_show(out, units)
    except ValueError as exc:
        module.fail_json(msg=str(exc), stdout=out)
    found = problems(states)
    if found:
        module.fail_json(msg="; ".join(found))

    actions = plan(states, module.params["state"], module.params["enabled"])
    if not module.check_mode:
        # Enabled before started, as `systemctl enable --now` would; stopped before disabled.
        for verb, key in (("enable", "enabled"), ("start", "started"), ("stop", "stopped"), ("disable", "disabled")):
            if actions[key]:
                rc, out, err = module.run_command([systemctl, verb, "--", *actions[key]])
                if rc != 0:
                    module.fail_json(msg=f"systemctl {verb} {' '.join(actions[key])} failed: {err.strip()}", rc=rc)
    module.exit_json(changed=any(actions.values()), **actions)


if __name__ == "__main__":
    main()
