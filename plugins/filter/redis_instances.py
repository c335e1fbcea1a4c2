# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Redis servers of one host: their settings, units and files."""

DOCUMENTATION = r"""
name: redis_instances
short_description: Every Redis instance of a host with its unit, files and settings
version_added: 0.1.0
author: opsforge developers (@opsforge)
description:
  - Fills every entry of C(redis_instances) with what it leaves out (port, users, memory limit and eviction
    policy from the role's variables) and with its systemd unit and files.
  - The instance named C(main) is Debian's C(redis-server.service) with C(/etc/redis/redis.conf),
    C(/etc/redis/users.acl) and C(/var/lib/redis). Any other name N is C(redis-server@N.service) (Debian's
    template unit) with C(/etc/redis/redis-N.conf), C(/etc/redis/users-N.acl) and C(/var/lib/redis/N).
options:
  _input:
    description: The entries of C(redis_instances), each a dict with at least C(name).
    type: list
    elements: dict
    required: true
  port:
    description: The port of an entry that sets none.
    type: int
    required: true
  users:
    description: The ACL users of an entry that names none (all of the role's users).
    type: list
    elements: str
    required: true
  maxmemory:
    description: The memory limit of an entry that sets none.
    type: str
    required: true
  maxmemory_policy:
    description: The eviction policy of an entry that sets none.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: The instances of this host
  ansible.builtin.debug:
    msg: >-
      {{ redis_instances | opsforge.webstack.redis_instances(port=6379, users=['app', 'celery', 'admin'],
         maxmemory='1024mb', maxmemory_policy='noeviction') }}
"""

RETURN = r"""
_value:
  description:
    - The entries with C(name), C(port), C(users), C(maxmemory), C(maxmemory_policy), C(service), C(unit)
      (the unit file its drop-in extends), C(conf), C(acl_file), C(data_dir), C(pidfile) and C(logfile).
  type: list
  elements: dict
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

# Debian's own unit and paths; every other instance uses the template unit redis-server@.service.
MAIN = "main"


def _files(name):
    """The unit and files of the instance called name (pure)."""
    if name == MAIN:
        return {
            "service": "redis-server.service",
            "unit": "redis-server.service",
            "conf": "/etc/redis/redis.conf",
            "acl_file": "/etc/redis/users.acl",
            "data_dir": "/var/lib/redis",
            "pidfile": "/run/redis/redis-server.pid",
            "logfile": "/var/log/redis/redis-server.log",
        }
    return {
        "service": f"redis-server@{name}.service",
        "unit": "redis-server@.service",
        "conf": f"/etc/redis/redis-{name}.conf",
        "acl_file": f"/etc/redis/users-{name}.acl",
        "data_dir": f"/var/lib/redis/{name}",
        "pidfile": f"/run/redis-{name}/redis-server.pid",
        "logfile": f"/var/log/redis/redis-server-{name}.log",
    }


def redis_instances(entries, port, users, maxmemory, maxmemory_policy):
    """Every entry filled with the role's defaults, its unit and its files (pure)."""
    if isinstance(entries, (str, bytes, Mapping)) or not hasattr(entries, "__iter__"):
        raise AnsibleFilterError(f"redis_instances expects a list of dicts, got {entries!r}")
    filled = []
    for entry in entries:
        if not isinstance(entry, Mapping) or not entry.get("name"):
            raise AnsibleFilterError(f"every entry of redis_instances needs a name, got {entry!r}")
        instance = {
            "port": int(port),
            "users": list(users),
            "maxmemory": str(maxmemory),
            "maxmemory_policy": maxmemory_policy,
            **{key: value for key, value in entry.items() if value is not None},
        }
        instance["port"] = int(instance["port"])
        instance.update(_files(str(instance["name"])))
        filled.append(instance)
    return filled


class FilterModule:
    """Redis instances."""

    def filters(self):
        return {"redis_instances": redis_instances}
