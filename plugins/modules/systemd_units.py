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
  restarted:
    description:
      - Units of O(units) to restart, those whose settings changed. A unit this call starts reads them anyway
        and is not restarted. Only with O(state=started).
    type: list
    elements: str
    default: []
  reloaded:
    description:
      - Units of O(units) to reload (their configuration changed), unless this call starts or restarts them.
        Only with O(state=started).
    type: list
    elements: str
    default: []
seealso:
  - module: ansible.builtin.systemd_service
"""

EXAMPLES = r"""
- name: Start the exporters, and at boot
  opsforge.webstack.systemd_units:
    units: [prometheus-node-exporter.service, prometheus-node-exporter-apt.timer]
    state: started
    enabled: true

- name: Start Prometheus and Alertmanager, and apply what changed
  opsforge.webstack.systemd_units:
    units: [prometheus.service, prometheus-alertmanager.service]
    state: started
    enabled: true
    restarted: [prometheus.service]  # its command line changed
    reloaded: [prometheus-alertmanager.service]  # its configuration changed
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
restarted:
  description: The units restarted (or that would be).
  returned: always
  type: list
  elements: str
reloaded:
  description: The units reloaded (or that would be).
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


def plan(states: dict[str, dict[str, str]], state, enabled, restarted=(), reloaded=()) -> dict[str, list[str]]:
    """Which units to enable, disable, start, restart, reload and stop, in the order given."""
    actions = {"enabled": [], "disabled": [], "started": [], "restarted": [], "reloaded": [], "stopped": []}
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
        elif unit in restarted:
            actions["restarted"].append(unit)
        elif unit in reloaded:
            actions["reloaded"].append(unit)
    return actions


def input_error(params: dict):
    """The first thing wrong with the arguments, as a message that says what to do, or None."""
    units = params["units"]
    if not units:
        return "units is empty: name at least one unit"
    if len(set(units)) != len(units):
        return "units names a unit twice: name each once"
    for option in ("restarted", "reloaded"):
        if params[option] and params["state"] != "started":
            return f"{option} needs state=started: a unit is restarted or reloaded only where it runs"
        unknown = [unit for unit in params[option] if unit not in units]
        if unknown:
            return f"{option} names {', '.join(unknown)}, not in units: add it to units or take it out"
    return None


def main():
    module = AnsibleModule(
        argument_spec={
            "units": {"type": "list", "elements": "str", "required": True},
            "state": {"type": "str", "choices": ["started", "stopped"]},
            "enabled": {"type": "bool"},
            "restarted": {"type": "list", "elements": "str", "default": []},
            "reloaded": {"type": "list", "elements": "str", "default": []},
        },
        required_one_of=[("state", "enabled")],
        supports_check_mode=True,
    )
    error = input_error(module.params)
    if error:
        module.fail_json(msg=error)
    units = module.params["units"]
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

    params = module.params
    actions = plan(states, params["state"], params["enabled"], params["restarted"], params["reloaded"])
    if not module.check_mode:
        # Enabled before started, as `systemctl enable --now` would; stopped before disabled.
        verbs = (
            ("enable", "enabled"),
            ("start", "started"),
            ("restart", "restarted"),
            ("reload", "reloaded"),
            ("stop", "stopped"),
            ("disable", "disabled"),
        )
        for verb, key in verbs:
            if actions[key]:
                rc, out, err = module.run_command([systemctl, verb, "--", *actions[key]])
                if rc != 0:
                    module.fail_json(msg=f"systemctl {verb} {' '.join(actions[key])} failed: {err.strip()}", rc=rc)
    module.exit_json(changed=any(actions.values()), **actions)


if __name__ == "__main__":
    main()
