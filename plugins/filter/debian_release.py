# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The versions a Debian release brings (PostgreSQL, Python, ...), from the collection's one table."""

DOCUMENTATION = r"""
name: debian_release
short_description: What a supported Debian release brings (PostgreSQL major version, Python, ...)
version_added: 0.2.0
author: opsforge developers (@opsforge)
description:
  - Looks a Debian release name (a host's C(ansible_facts['distribution_release'])) up in the collection's one
    table of supported releases, so that each host's own release decides the versions the roles use.
  - C(bookworm) (Debian 12) gives PostgreSQL 15 and Python 3.11; C(trixie) (Debian 13) PostgreSQL 17 and Python 3.13.
  - Fails, naming the supported releases, for any other release.
  - Null for a null release (the host's facts not gathered yet), so that a role's defaults built on it can be
    read, and validated, before the facts are.
options:
  _input:
    description: The release's code name.
    type: str
    required: true
  key:
    description:
      - One entry of the release's facts (C(debian_version), C(postgresql_version), C(python_version),
        C(pgbouncer_version), C(redis_version), C(nginx_version), C(systemd_version), C(openssh_version)).
      - Without it, every entry as a dictionary.
    type: str
"""

EXAMPLES = r"""
- name: The PostgreSQL major version of this host's release
  ansible.builtin.debug:
    msg: "{{ ansible_facts['distribution_release'] | opsforge.webstack.debian_release('postgresql_version') }}"
"""

RETURN = r"""
_value:
  description: The entry named by O(key), or the release's whole dictionary; null for a null release.
  type: raw
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.module_utils.debian_releases import release_facts


def debian_release(release, key=None):
    """Return what `release` brings, or the one entry `key` of it; None when the release is not known yet."""
    if release is None:
        return None
    try:
        facts = release_facts(release)
    except ValueError as error:
        raise AnsibleFilterError(str(error)) from None
    if key is None:
        return facts
    if key not in facts:
        raise AnsibleFilterError(f"debian_release: no '{key}' in the table; known: {', '.join(sorted(facts))}")
    return facts[key]


class FilterModule:
    """Debian release filters."""

    def filters(self):
        return {"debian_release": debian_release}
