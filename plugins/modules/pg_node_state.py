#!/usr/bin/python
# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: pg_node_state
extends_documentation_fragment:
  - opsforge.webstack.attributes.read_only
  - opsforge.webstack.postgres
  - opsforge.webstack.postgres.tls
short_description: Report whether a PostgreSQL member holds data, runs, and is in recovery
version_added: 0.1.0
description:
  - Reads one member's data directory and, when its server runs, asks it C(pg_is_in_recovery()), and reports
    one of V(absent), V(running-primary), V(running-standby), V(stopped-primary), V(stopped-standby), the
    states the P(opsforge.webstack.pg_topology#filter) filter decides the primary from.
  - Uses the same inspection as M(opsforge.webstack.pg_standby) (the module_utils C(node_state)), so the
    roles and that module agree on what a member is.
  - Takes the data directory, the port and the major version explicitly, so that a task delegated to a
    member from another host's play (the pgbouncer role) cannot inspect the wrong cluster with that
    host's variables.
  - A server that runs but does not answer counts as stopped (its C(standby.signal) decides which).
  - Runs as root (it then connects as the owner of the data directory, for peer authentication over the
    unix socket) or as that owner. Needs psycopg2 only when the server runs.
author:
  - opsforge developers (@opsforge)
options:
  data_directory:
    description: The member's data directory.
    type: path
    required: true
  version:
    description:
      - The major version the member must run. When the data directory holds another version (C(PG_VERSION)),
        the module fails instead of reporting a state of the wrong cluster.
      - Leave unset to accept any version.
    type: str
seealso:
  - module: opsforge.webstack.pg_standby
  - module: opsforge.webstack.pg_replication_info
"""

EXAMPLES = r"""
- name: Ask every member of the cluster for its state
  opsforge.webstack.pg_node_state:
    data_directory: /var/lib/postgresql/15/main
    version: "15"
    port: "{{ hostvars[item].postgresql_port | default(5432) }}"
  delegate_to: "{{ item }}"
  loop: "{{ groups['postgres'] }}"
  run_once: true
  become: true
  register: __states
"""

RETURN = r"""
state:
  description: V(absent), V(running-primary), V(running-standby), V(stopped-primary) or V(stopped-standby).
  returned: always
  type: str
  sample: running-standby
pg_version:
  description: The major version in the data directory's C(PG_VERSION); null when there is none.
  returned: always
  type: str
  sample: "15"
running:
  description: Whether a postmaster runs for the data directory (C(postmaster.pid) and a live process).
  returned: always
  type: bool
  sample: true
standby_signal:
  description: Whether the data directory holds C(standby.signal).
  returned: always
  type: bool
  sample: true
service:
  description:
    - The systemd service whose control group holds the running postmaster, read from C(/proc/<pid>/cgroup) -
      Debian's C(postgresql@<version>-<cluster>.service), Patroni's C(patroni@<version>-<cluster>.service), or
      another; null when no server runs or the process names no service.
  returned: always
  type: str
  sample: postgresql@15-main.service
connect_error:
  description: Why the running server did not answer, when it did not; null otherwise.
  returned: always
  type: str
  sample: null
"""

from ansible_collections.opsforge.webstack.plugins.module_utils.member_state import classify
from ansible_collections.opsforge.webstack.plugins.module_utils.node_state import ask_in_recovery, inspect_local
from ansible_collections.opsforge.webstack.plugins.module_utils.postgres import (
    HAS_PSYCOPG2,
    new_module,
    postgres_common_argument_spec,
)


def validate_params(params):
    if params["version"] is not None and not str(params["version"]).strip():
        return "version must not be empty; leave it unset to accept any version."
    return None


def main():
    argument_spec = postgres_common_argument_spec()
    argument_spec.update(
        data_directory={"type": "path", "required": True},
        version={"type": "str"},
    )
    module = new_module(argument_spec, validate_params)
    params = module.params
    local = inspect_local(module, params)
    if params["version"] is not None and local["pg_version"] not in (None, str(params["version"]).strip()):
        module.fail_json(
            msg=f"{local['path']} holds a PostgreSQL {local['pg_version']} cluster, not {params['version']}: "
            "pass the member's own version and data directory."
        )
    in_recovery, connect_error = None, None
    if local["running"]:
        if HAS_PSYCOPG2:
            in_recovery, connect_error = ask_in_recovery(params, local["path"])
        else:
            connect_error = "psycopg2 is not installed, so the running server could not be asked"
    module.exit_json(
        changed=False,
        state=classify(local, in_recovery),
        pg_version=local["pg_version"],
        running=local["running"],
        standby_signal=local["standby_signal"],
        service=local["service"],
        connect_error=connect_error,
    )


if __name__ == "__main__":
    main()
