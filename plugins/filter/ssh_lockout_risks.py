# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ways an sshd configuration would shut out the very connection Ansible is using."""

DOCUMENTATION = r"""
name: ssh_lockout_risks
short_description: Why an sshd hardening would lock Ansible out of a host
version_added: 0.3.0
author: opsforge developers (@opsforge)
description:
  - Compares the user Ansible logs in as (and its groups) with the sshd settings about to be written, and returns
    one message per way the next login would be refused, each naming the variable to set.
  - C(PermitRootLogin no) (or C(forced-commands-only)) while Ansible logs in as root; C(AllowGroups) that the
    login user is in none of, and would not be in after the role's users task (operators join the first group).
    An operator the same run removes is refused too.
  - Returns nothing for a connection that does not go through sshd (podman, docker, local).
options:
  _input:
    description: The login user's name (C(id -un) without become).
    type: str
    required: true
  user_groups:
    description: The login user's groups now (C(id -Gn) without become).
    type: list
    elements: str
    required: true
  connection:
    description: The connection plugin (C(ansible_connection)); C(ssh) when unset.
    type: str
    required: true
  permit_root_login:
    description: The C(PermitRootLogin) value about to be written.
    type: str
    required: true
  allow_groups:
    description: The C(AllowGroups) about to be written; empty for none.
    type: list
    elements: str
    required: true
  operators:
    description: The operators the role keeps (they join the first of O(allow_groups)).
    type: list
    elements: str
    default: []
  removed:
    description: The operators the role removes.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Refuse a configuration that would lock Ansible out
  ansible.builtin.assert:
    that: _risks | length == 0
    fail_msg: "{{ _risks | join(' ') }}"
  vars:
    _risks: "{{ 'admin' | opsforge.webstack.ssh_lockout_risks(['admin', 'sudo'], 'ssh', 'no', ['webstack-ssh']) }}"
"""

RETURN = r"""
_value:
  description: One sentence per reason the next login would be refused; empty when it would not be.
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError

# The connection plugins that log in through the host's sshd.
SSH_CONNECTIONS = frozenset(
    {"ssh", "smart", "paramiko", "paramiko_ssh", "ansible.builtin.ssh", "ansible.builtin.paramiko_ssh"}
)
ROOT_REFUSED = frozenset({"no", "forced-commands-only"})


def _names(value, what):
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise AnsibleFilterError(f"ssh_lockout_risks expects {what} as a list of names, got {value!r}")
    return [str(name) for name in value]


def ssh_lockout_risks(user, user_groups, connection, permit_root_login, allow_groups, operators=(), removed=()):
    """Why the next SSH login as `user` would be refused under these settings (pure)."""
    user_groups = _names(user_groups, "user_groups")
    allow_groups = _names(allow_groups, "allow_groups")
    operators = _names(list(operators), "operators")
    removed = _names(list(removed), "removed")
    if not user:
        raise AnsibleFilterError("ssh_lockout_risks needs the login user's name, got none")
    if (connection or "ssh") not in SSH_CONNECTIONS:
        return []
    risks = []
    if user == "root" and str(permit_root_login) in ROOT_REFUSED:
        risks.append(
            f"Ansible logs in as root, and common_ssh_permit_root_login: {permit_root_login} would refuse its next "
            "login. Log in as an operator with sudo (ansible_user, with become: true), or set "
            "common_ssh_permit_root_login: prohibit-password (keys only) while Ansible still logs in as root."
        )
    if user in removed:
        risks.append(
            f"Ansible logs in as '{user}', whom common_users removes (state: absent). "
            "Log in as another operator (ansible_user), or keep this one."
        )
    elif allow_groups and not set(user_groups) & set(allow_groups) and user not in operators:
        groups = ", ".join(user_groups) or "none"
        risks.append(
            f"Ansible logs in as '{user}' (groups: {groups}), who is in none of common_ssh_allow_groups "
            f"({', '.join(allow_groups)}), so sshd would refuse its next login. Add '{user}' to common_users "
            f"(operators join '{allow_groups[0]}'), add one of its groups to common_ssh_allow_groups, or set "
            "common_ssh_allow_groups: [] for no AllowGroups."
        )
    return risks


class FilterModule:
    """SSH lockout."""

    def filters(self):
        return {"ssh_lockout_risks": ssh_lockout_risks}
