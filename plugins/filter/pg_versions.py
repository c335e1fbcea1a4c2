# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PostgreSQL major version of every member of a cluster, and a refusal when they differ."""

DOCUMENTATION = r"""
name: pg_versions
short_description: The PostgreSQL major version of each member of a cluster; an error when they differ
version_added: 0.2.0
author: opsforge developers (@opsforge)
description:
  - Each member's version is its own C(postgresql_version) from the inventory, else the one its Debian release
    brings (its gathered fact C(distribution_release), through M(opsforge.webstack.debian_release#filter)),
    else O(default); a member with none of them is an error (gather its facts first).
  - Streaming replication and pg_rewind need one major version on every member, so members that differ give an
    error that names each member's version and what to do.
options:
  _input:
    description: The members' inventory names.
    type: list
    elements: str
    required: true
  hostvars:
    description: The play's C(hostvars).
    type: dict
    required: true
  default:
    description: The version of a member whose inventory sets none and whose facts were not gathered.
    type: int
"""

EXAMPLES = r"""
- name: Refuse a cluster whose members run different major versions
  ansible.builtin.assert:
    that: _versions.error is none
    fail_msg: "{{ _versions.error }}"
  vars:
    _versions: "{{ groups['postgres'] | opsforge.webstack.pg_versions(hostvars) }}"
"""

RETURN = r"""
_value:
  description: C(versions) (member name to major version), C(version) (the one version, null when they differ)
    and C(error) (null when there is none).
  type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.module_utils.debian_releases import release_facts


def member_version(name, hostvars, default):
    """One member's major version: the inventory's, else its release's, else `default`."""
    explicit = hostvars.get("postgresql_version")
    if explicit not in (None, ""):
        return int(explicit), "set in the inventory"
    release = (hostvars.get("ansible_facts") or {}).get("distribution_release")
    if release:
        try:
            return release_facts(release)["postgresql_version"], f"Debian {release}"
        except ValueError as error:
            raise AnsibleFilterError(str(error)) from None
    if default in (None, ""):
        raise AnsibleFilterError(
            f"pg_versions: {name} has no postgresql_version and no gathered fact distribution_release; "
            "gather its facts (ansible.builtin.setup) before deciding its PostgreSQL version"
        )
    return int(default), "the given default"


def pg_versions(members, hostvars, default=None):
    """Return every member's major version and an error when they are not all the same."""
    if not members:
        raise AnsibleFilterError("pg_versions expects the members' names")
    found = {name: member_version(name, hostvars[name], default) for name in members}
    versions = {name: version for name, (version, _why) in found.items()}
    distinct = sorted(set(versions.values()))
    if len(distinct) == 1:
        return {"versions": versions, "version": distinct[0], "error": None}
    listing = ", ".join(f"{name} {version} ({why})" for name, (version, why) in sorted(found.items()))
    return {
        "versions": versions,
        "version": None,
        "error": (
            f"the members would run different PostgreSQL major versions: {listing}. A standby streams and rewinds "
            "only from a primary of its own major version. Put every member on one Debian release, or set "
            "postgresql_version to one version for the whole group (Debian 13 has no PostgreSQL 15 package: "
            "upgrade the cluster with pg_upgradecluster before moving its members to trixie)."
        ),
    }


class FilterModule:
    """PostgreSQL cluster filters."""

    def filters(self):
        return {"pg_versions": pg_versions}
