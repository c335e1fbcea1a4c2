# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which of the common role's base system settings differ from what the host has."""

DOCUMENTATION = r"""
name: base_system_drift
short_description: Which base system settings of the common role a host does not have yet
version_added: 0.5.0
author: opsforge developers (@opsforge)
description:
  - Reads the output of the common role's one read-only probe of a host (tasks/state.yml, lines of
    C(<key> <value>)) and says, setting by setting, whether the module that converges it has work to do.
  - The role then calls only those modules. A module call costs a host about 0.2 s of CPU, and on a host that
    already has every setting, a run makes one call where it made eight.
  - A setting the probe could not read counts as drift, so the module runs and decides, as it would without
    the probe.
options:
  _input:
    description: The probe's standard output.
    type: str
    required: true
  timezone:
    description: The time zone the host should have (C(common_timezone)).
    type: str
    required: true
  locale:
    description: The locale that should be generated (C(common_locale)).
    type: str
    required: true
  login_umask:
    description: The C(UMASK) of /etc/login.defs (C(common_login_umask)); empty leaves it alone.
    type: str
    required: true
  groups:
    description: The groups that should exist.
    type: list
    elements: str
    required: true
  unwanted_packages:
    description: The packages that should not be installed.
    type: list
    elements: str
    required: true
  apt_timers:
    description: apt's timers.
    type: list
    elements: str
    required: true
  apt_timers_enabled:
    description: Whether apt's daily timers should be enabled and running (C(common_unattended_upgrades)).
    type: bool
    required: true
"""

EXAMPLES = r"""
- name: Set the timezone
  community.general.timezone:
    name: "{{ common_timezone }}"
  when: _common_drift.timezone
  vars:
    _common_drift: >-
      {{ __common_state.stdout | opsforge.webstack.base_system_drift(
           timezone=common_timezone, locale=common_locale, login_umask=common_login_umask,
           groups=common_ssh_allow_groups, unwanted_packages=common_legacy_packages,
           apt_timers=['apt-daily.timer'], apt_timers_enabled=common_unattended_upgrades) }}
"""

RETURN = r"""
_value:
  description: What to converge.
  type: dict
  contains:
    timezone:
      description: The time zone differs (or could not be read).
      type: bool
    locale:
      description: The locale is not generated.
      type: bool
    weak_moduli:
      description: /etc/ssh/moduli has Diffie-Hellman groups below 3072 bits (or could not be read).
      type: bool
    login_umask:
      description: The C(UMASK) line of /etc/login.defs differs (always false when O(login_umask) is empty).
      type: bool
    missing_groups:
      description: The groups of O(groups) that do not exist, in the order given.
      type: list
      elements: str
    installed_unwanted:
      description: The packages of O(unwanted_packages) that are installed, in the order given.
      type: list
      elements: str
    apt_timers:
      description: A timer of O(apt_timers) is not in the state O(apt_timers_enabled) asks for.
      type: bool
"""

from ansible.errors import AnsibleFilterError


def probe_lines(output: str) -> dict[str, list[str]]:
    """The probe's lines, grouped by key: {key: [value, ...]} in the order read."""
    values: dict[str, list[str]] = {}
    for line in output.splitlines():
        key, _space, value = line.strip().partition(" ")
        if key:
            values.setdefault(key, []).append(value.strip())
    return values


def locale_name(name: str) -> str:
    """A locale as `locale -a` spells it: en_US.UTF-8 and en_US.utf8 are the same locale."""
    base, dot, codeset = name.partition(".")
    return base + dot + codeset.lower().replace("-", "")


def base_system_drift(
    output,
    timezone: str,
    locale: str,
    login_umask: str,
    groups: list,
    unwanted_packages: list,
    apt_timers: list,
    apt_timers_enabled: bool,
) -> dict:
    if not isinstance(output, str):
        raise AnsibleFilterError(f"base_system_drift expects the probe's output as text, got {type(output).__name__}")
    state = probe_lines(output)
    weak_moduli = state.get("weak_moduli", [""])[0]
    timers = {}
    for line in state.get("timer", []):
        name, _space, states = line.partition(" ")
        timers[name] = states.split()
    wanted_timer = ["enabled", "active"] if apt_timers_enabled else ["disabled", "inactive"]
    packages = {}
    for line in state.get("package", []):
        name, _space, status = line.partition(" ")
        packages[name] = status
    return {
        "timezone": state.get("timezone", [""])[0] != timezone,
        "locale": locale_name(locale) not in {locale_name(name) for name in state.get("locale", [])},
        "weak_moduli": not weak_moduli.isdigit() or int(weak_moduli) > 0,
        "login_umask": bool(login_umask) and state.get("login_umask", [""])[0] != login_umask,
        "missing_groups": [group for group in groups if group not in state.get("group", [])],
        "installed_unwanted": [name for name in unwanted_packages if packages.get(name) == "installed"],
        "apt_timers": any(timers.get(timer) != wanted_timer for timer in apt_timers),
    }


class FilterModule:
    def filters(self):
        return {"base_system_drift": base_system_drift}
