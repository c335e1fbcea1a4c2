# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which secrets must not be deployed: empty, short, too simple, or a placeholder copied from an example."""

DOCUMENTATION = r"""
name: unsafe_secrets
short_description: The secrets that must not be deployed, by name, with the reason
version_added: 0.1.0
author: opsforge developers (@opsforge)
description:
  - Takes a dict of secret names and values and returns one string, the name followed by the reason, for each
    value that is empty, shorter than O(min_length), made of fewer than 6 different characters, or a placeholder
    (C(CHANGE-ME), C(changeme), C(replace-me), C(placeholder), C(example), C(your-password), C(xxxx), C(TODO),
    C(<...>)), so that an inventory copied from an example never deploys publicly known passwords.
  - The values never appear in the result, so a role's preflight can print it.
options:
  _input:
    description: Secret names and their values.
    type: dict
    required: true
  min_length:
    description: The fewest characters a secret may have.
    type: int
    default: 16
  name_format:
    description: How a name is shown, C({}) standing for it (for secrets inside a list, such as users' passwords).
    type: str
    default: "{}"
"""

EXAMPLES = r"""
- name: Refuse weak or placeholder secrets, naming them
  ansible.builtin.assert:
    that: __problems | length == 0
    fail_msg: "{{ __problems | join('; ') }}"
  vars:
    __problems: "{{ {'pgbouncer_admin_password': pgbouncer_admin_password} | opsforge.webstack.unsafe_secrets }}"
"""

RETURN = r"""
_value:
  description:
    - One string per secret that must not be deployed (its name, then the reason), in the order given.
    - Empty when all are fine.
  type: list
  elements: str
  sample: ["pgbouncer_admin_password: looks like a placeholder (contains 'CHANGE-ME')"]
"""

import re

from ansible.errors import AnsibleFilterError

PLACEHOLDER = re.compile(
    r"change[-_ .]?me|replace[-_ .]?me|placeholder|example|your[-_ .]?(?:password|secret|key)|x{4,}|todo|fixme|<[^>]*>",
    re.IGNORECASE,
)
MIN_DISTINCT_CHARACTERS = 6


def secret_problem(value, min_length=16):
    """Why this value must not be deployed, or None (pure; the reason never quotes the value)."""
    if value is None or not isinstance(value, str) or not value:
        return "is empty"
    found = PLACEHOLDER.search(value)
    if found:
        return f"looks like a placeholder (contains {found.group(0)!r})"
    if len(value) < min_length:
        return f"has {len(value)} characters, fewer than {min_length}"
    if len(set(value)) < MIN_DISTINCT_CHARACTERS:
        return f"uses fewer than {MIN_DISTINCT_CHARACTERS} different characters"
    return None


def unsafe_secrets(secrets, min_length=16, name_format="{}"):
    if not isinstance(secrets, dict):
        raise AnsibleFilterError(f"unsafe_secrets expects a dict of names and values, got {type(secrets).__name__}")
    problems = []
    for name, value in secrets.items():
        problem = secret_problem(value, int(min_length))
        if problem:
            problems.append(f"{name_format.format(name)} {problem}")
    return problems


class FilterModule:
    def filters(self):
        return {"unsafe_secrets": unsafe_secrets}
