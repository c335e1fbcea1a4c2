#!/usr/bin/python
# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: pg_standby
short_description: Make a PostgreSQL server a streaming standby of a given primary
version_added: 0.1.0
description:
  - Looks at the local data directory and server, picks one action (returned as RV(decision)) and carries it
    out, then waits until the WAL receiver streams from O(primary_host).
  - V(none) when the server already streams from O(primary_host):O(primary_port) with the wanted settings.
  - V(configure) when it is a standby whose C(primary_conninfo) or C(primary_slot_name) differ. The settings are
    written to C(postgresql.auto.conf) and the server reloaded (or started when it is down).
  - V(start) when it is a correctly configured standby that is not running.
  - V(clone) when the data directory is missing or empty, or O(reclone=true). It runs
    C(pg_basebackup -X stream), writes the settings and C(standby.signal), and starts the server.
  - V(rewind) when the data belongs to a former primary (no C(standby.signal)), or to a standby whose timeline
    has left the primary's history. It stops the server, runs C(pg_rewind --source-server), writes the settings
    and C(standby.signal), and starts the server.
  - Passwords reach C(pg_basebackup) and C(pg_rewind) through the C(PGPASSWORD) environment variable, never on the
    command line, and are masked in everything the module returns.
author:
  - opsforge developers (@opsforge)
attributes:
  check_mode:
    support: full
    description: Inspects the server and returns the action and the commands it would run, with passwords masked.
extends_documentation_fragment:
  - opsforge.webstack.attributes
  - opsforge.webstack.postgres
  - opsforge.webstack.postgres.tls
options:
  primary_host:
    description: Host name or address of the primary to stream from.
    type: str
    required: true
  primary_port:
    description: Port of the primary.
    type: int
    default: 5432
  replication_user:
    description: Role with the C(REPLICATION) attribute on the primary.
    type: str
    default: replicator
  replication_password:
    description: Password of O(replication_user). Written into C(primary_conninfo) in C(postgresql.auto.conf).
    type: str
  slot_name:
    description:
      - Physical replication slot on the primary to stream from. It must exist (for example created with
        M(community.postgresql.postgresql_slot)). Without it no slot is used.
    type: str
  application_name:
    description: The name the standby reports to the primary (C(pg_stat_replication.application_name)).
    type: str
  data_directory:
    description: The data directory of the local server (on Debian C(/var/lib/postgresql/<version>/<cluster>)).
    type: path
    required: true
  pg_version:
    description:
      - Major version of the local server. Used to build the default O(pg_bin_dir), O(start_command) and
        O(stop_command). Read from C(PG_VERSION) in the data directory when it is not given.
    type: int
  cluster_name:
    description: Debian cluster name used by the default O(start_command) and O(stop_command).
    type: str
    default: main
  pg_bin_dir:
    description: Directory holding C(pg_basebackup), C(pg_rewind) and C(pg_controldata).
    type: path
  start_command:
    description:
      - Command that starts the local server and returns once it runs, as a list of arguments.
      - Defaults to C(pg_ctlcluster <pg_version> <cluster_name> start). Use for example
        C([systemctl, start, postgresql@15-main]) or a C(pg_ctl -w start) line.
    type: list
    elements: str
  stop_command:
    description:
      - Command that stops the local server cleanly and returns once it is down, as a list of arguments.
      - Defaults to C(pg_ctlcluster <pg_version> <cluster_name> stop -m fast).
    type: list
    elements: str
  config_file:
    description:
      - Main configuration file, passed to C(pg_rewind --config-file) when it has to run crash recovery on the
        local data first. Defaults to C(/etc/postgresql/<pg_version>/<cluster_name>/postgresql.conf) when that
        exists and the data directory holds no C(postgresql.conf).
    type: path
  restore_target_wal:
    description:
      - Pass C(--restore-target-wal) to C(pg_rewind), so that WAL the former primary has already archived and
        removed since the last checkpoint the two servers share is fetched with the C(restore_command) of its
        configuration (O(config_file)). Without it, a former primary that checkpointed after the divergence
        cannot be rewound (C(pg_rewind) could not open file ... C(pg_wal/...)) and must be cloned again.
      - Set it where the members have a C(restore_command) (a WAL archive).
    type: bool
    default: false
  os_user:
    description:
      - The OS user that owns the cluster. When the module runs as root, C(pg_basebackup) and C(pg_rewind) run as
        this user through C(runuser) and the files it writes are given to the data directory's owner.
    type: str
    default: postgres
  rewind_user:
    description:
      - Role used by C(pg_rewind) to read the primary over a normal connection. It needs superuser or EXECUTE on
        C(pg_ls_dir), C(pg_stat_file), C(pg_read_binary_file) and C(pg_read_binary_file(text, bigint, bigint, boolean)).
      - Defaults to O(replication_user).
    type: str
  rewind_password:
    description: Password of O(rewind_user). Defaults to O(replication_password) when O(rewind_user) is not set.
    type: str
  rewind_dbname:
    description: Database C(pg_rewind) connects to on the primary.
    type: str
    default: postgres
  checkpoint:
    description:
      - The checkpoint mode C(pg_basebackup) asks the primary for.
      - V(fast) starts at once, V(spread) spares the primary I/O.
    type: str
    choices: [fast, spread]
    default: fast
  reclone:
    description: Replace the local data with a fresh copy of the primary, whatever it holds. Stops the server first.
    type: bool
    default: false
  stop_running_primary:
    description:
      - When the local server is a running primary, stop it and rewind it into a standby of O(primary_host).
      - Off by default so that pointing the module at the wrong host never takes a live primary down.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait, after acting, for the WAL receiver to stream from the primary.
    type: int
    default: 120
notes:
  - The login options point at the local server; run the task with C(become=true) so that the data directory
    can be read and written (as root, or with C(become_user=postgres) and start/stop commands that user may run).
  - Needs PostgreSQL 13 or later, where C(primary_conninfo) and C(primary_slot_name) change on reload.
  - The TLS options O(ssl_mode) and O(ca_cert) also apply to every connection to the primary - C(primary_conninfo)
    (C(sslmode) always, C(sslrootcert) when set), C(pg_basebackup), C(pg_rewind) and the replication probe. Over the
    local unix socket libpq ignores them. Use V(verify-full) with the CA of the primary's certificate, which must name
    O(primary_host).
  - With O(stop_running_primary=true) a running primary is only stopped when O(primary_host) answers over a
    replication connection and is on a newer timeline, so a task pointed at the wrong host cannot take the only
    primary down.
  - The primary needs C(wal_log_hints=on) or data checksums for C(pg_rewind), and C(pg_hba.conf) entries for
    O(replication_user) (replication) and O(rewind_user) (database O(rewind_dbname)).
seealso:
  - module: opsforge.webstack.pg_replication_info
  - module: opsforge.webstack.pg_promote
"""

EXAMPLES = r"""
- name: Stream from db1 (clones, rewinds or reconfigures as needed)
  opsforge.webstack.pg_standby:
    primary_host: db1.internal
    replication_user: replicator
    replication_password: "{{ postgresql_replication_password }}"
    slot_name: db2
    application_name: db2
    data_directory: /var/lib/postgresql/15/main
    pg_version: 15
  become: true

- name: Rejoin the old primary after a switchover, even if it came back up
  opsforge.webstack.pg_standby:
    primary_host: "{{ new_primary }}"
    replication_password: "{{ postgresql_replication_password }}"
    rewind_user: rewinder
    rewind_password: "{{ postgresql_rewind_password }}"
    data_directory: /var/lib/postgresql/15/main
    pg_version: 15
    stop_running_primary: true
  become: true

- name: A cluster run by systemd units
  opsforge.webstack.pg_standby:
    primary_host: 10.0.0.11
    replication_password: "{{ postgresql_replication_password }}"
    data_directory: /var/lib/postgresql/15/main
    pg_version: 15
    start_command: [systemctl, start, postgresql@15-main]
    stop_command: [systemctl, stop, postgresql@15-main]
  become: true
"""

RETURN = r"""
decision:
  description: What was done (or would be in check mode), one of V(none), V(configure), V(start), V(clone), V(rewind).
  returned: always
  type: str
  sample: clone
reason:
  description: Why that action was chosen.
  returned: always
  type: str
  sample: the data directory is empty
commands:
  description: The steps run (or that would run), with passwords masked.
  returned: always
  type: list
  elements: str
  sample: ["pg_basebackup -D /var/lib/postgresql/15/main -d 'host=db1 port=5432 user=replicator' -X stream -S db2"]
wal_receiver:
  description: C(pg_stat_wal_receiver) once streaming (or as found in check mode), without the password.
  returned: when the server runs
  type: dict
  sample: {"status": "streaming", "sender_host": "db1.internal", "sender_port": 5432, "slot_name": "db2"}
local:
  description: What the module found before acting (data directory, running, recovery, timeline).
  returned: always
  type: dict
  sample: {"exists": true, "empty": false, "running": true, "in_recovery": true, "standby_signal": true}
primary:
  description: What the primary reported over a replication connection (system identifier, timeline), when asked.
  returned: when the primary was probed
  type: dict
  sample: {"system_identifier": "7301234567890123456", "timeline": 2, "lsn": "0/5000148"}
elapsed_ms:
  description: Milliseconds spent acting and waiting for streaming.
  returned: when something was done
  type: int
  sample: 5321
"""

import os
import time

from ansible_collections.opsforge.webstack.plugins.module_utils.node_state import (
    inspect_local,
    inspect_running,
    inspect_stopped,
    probe_primary,
    read_wal_receiver,
)
from ansible_collections.opsforge.webstack.plugins.module_utils.postgres import (
    elapsed_ms,
    ensure_psycopg2,
    mask_secrets,
    new_module,
    poll_new_connections,
    postgres_common_argument_spec,
    strip_conninfo_password,
)
from ansible_collections.opsforge.webstack.plugins.module_utils.standby import (
    NONE,
    Refused,
    StepContext,
    StepFailed,
    build_plan,
    decide_action,
    default_commands,
    describe_plan,
    execute_plan,
    is_streaming_from,
    needs_primary_probe,
    password_env,
)


def wait_streaming(params, deadline):
    """Poll until the WAL receiver streams from the primary; return (receiver row, last seen text)."""

    def look(conn):
        receiver = read_wal_receiver(conn)
        if is_streaming_from(receiver, params["primary_host"], params["primary_port"]):
            return receiver, None
        return None, f"pg_stat_wal_receiver: {receiver}" if receiver else "no WAL receiver running"

    return poll_new_connections(
        params,
        look,
        deadline,
        0.25,
        connect_error="cannot connect to the local server",
        query_error="query failed",
    )


def resolve_paths(module, params, local):
    """pg_bin_dir, start and stop commands and config_file, from the options or the Debian layout."""
    version = params.get("pg_version") or local.get("pg_version")
    need_version = not params.get("pg_bin_dir") or not params.get("start_command") or not params.get("stop_command")
    if need_version and not version:
        module.fail_json(
            msg=f"Cannot tell the PostgreSQL major version: {params['data_directory']} holds no PG_VERSION. Set "
            "pg_version, or all of pg_bin_dir, start_command and stop_command."
        )
    bin_dir = params.get("pg_bin_dir") or f"/usr/lib/postgresql/{version}/bin"
    start_cmd, stop_cmd = (None, None)
    if version:
        start_cmd, stop_cmd = default_commands(version, params["cluster_name"])
    start_cmd = params.get("start_command") or start_cmd
    stop_cmd = params.get("stop_command") or stop_cmd
    config_file = params.get("config_file")
    if not config_file and version:
        debian_conf = f"/etc/postgresql/{version}/{params['cluster_name']}/postgresql.conf"
        in_data = os.path.join(params["data_directory"], "postgresql.conf")
        if os.path.exists(debian_conf) and not os.path.exists(in_data):
            config_file = debian_conf
    return bin_dir, start_cmd, stop_cmd, config_file


def validate_params(params):
    """Error message for inconsistent options, else None (pure)."""
    if not os.path.isabs(params["data_directory"]):
        return f"data_directory must be an absolute path (got {params['data_directory']})."
    if params["wait_timeout"] < 1:
        return "wait_timeout must be at least 1 second."
    for name in ("start_command", "stop_command"):
        if params.get(name) is not None and not params[name]:
            return f"{name} must not be an empty list."
    return None


def main():
    argument_spec = postgres_common_argument_spec()
    argument_spec.update(
        {
            "primary_host": {"type": "str", "required": True},
            "primary_port": {"type": "int", "default": 5432},
            "replication_user": {"type": "str", "default": "replicator"},
            "replication_password": {"type": "str", "no_log": True},
            "slot_name": {"type": "str"},
            "application_name": {"type": "str"},
            "data_directory": {"type": "path", "required": True},
            "pg_version": {"type": "int"},
            "cluster_name": {"type": "str", "default": "main"},
            "pg_bin_dir": {"type": "path"},
            "start_command": {"type": "list", "elements": "str"},
            "stop_command": {"type": "list", "elements": "str"},
            "config_file": {"type": "path"},
            "restore_target_wal": {"type": "bool", "default": False},
            "os_user": {"type": "str", "default": "postgres"},
            "rewind_user": {"type": "str"},
            "rewind_password": {"type": "str", "no_log": True},
            "rewind_dbname": {"type": "str", "default": "postgres"},
            "checkpoint": {"type": "str", "choices": ["fast", "spread"], "default": "fast"},
            "reclone": {"type": "bool", "default": False},
            "stop_running_primary": {"type": "bool", "default": False},
            "wait_timeout": {"type": "int", "default": 120},
        }
    )
    module = new_module(argument_spec, validate_params)
    ensure_psycopg2(module)
    params = module.params
    secrets = [params.get("replication_password"), params.get("rewind_password"), params.get("login_password")]
    result = {"changed": False}

    local = inspect_local(module, params)
    bin_dir, start_cmd, stop_cmd, config_file = resolve_paths(module, params, local)
    if local["running"]:
        inspect_running(module, params, local)
    elif local["has_pg_version"]:
        inspect_stopped(module, params, local, bin_dir)
    result["local"] = {k: v for k, v in local.items() if k not in ("primary_conninfo", "wal_receiver")}
    result["local"]["primary_conninfo"] = strip_conninfo_password(local.get("primary_conninfo"))

    primary = None
    if needs_primary_probe(local, params):
        primary, probe_error = probe_primary(params)
        if primary:
            result["primary"] = {k: v for k, v in primary.items() if k != "history"}
        else:
            result["primary_probe_error"] = mask_secrets(probe_error, secrets)

    try:
        action, reason = decide_action(local, params, primary)
    except Refused as exc:
        module.fail_json(msg=f"pg_standby refused on this host: {exc}", **result)
    plan = build_plan(action, local, params, bin_dir, start_cmd, stop_cmd, os.geteuid(), config_file)
    result.update(decision=action, reason=reason, commands=describe_plan(plan, secrets, params["data_directory"]))
    if local.get("wal_receiver"):
        result["wal_receiver"] = local["wal_receiver"]

    if module.check_mode:
        result["changed"] = action != NONE
        module.exit_json(**result)

    start = time.monotonic()
    try:
        execute_plan(plan, StepContext(module, secrets, password_env(action, params)))
    except StepFailed as exc:
        module.fail_json(msg=str(exc), commands=result["commands"])
    result["changed"] = action != NONE

    receiver, last_seen = wait_streaming(params, time.monotonic() + params["wait_timeout"])
    result["elapsed_ms"] = elapsed_ms(start)
    if receiver is None:
        module.fail_json(
            msg=f"After action '{action}' the server of {params['data_directory']} did not stream from "
            f"{params['primary_host']}:{params['primary_port']} within {params['wait_timeout']} s. Last seen: "
            f"{mask_secrets(last_seen, secrets)}. Check the server log and the primary's pg_hba.conf; if the "
            "primary no longer has the WAL this node needs, run again with reclone=true.",
            **result,
        )
    result["wal_receiver"] = receiver
    if action != NONE:
        result["msg"] = f"{action}: {reason}; streaming from {params['primary_host']}:{params['primary_port']}"
    else:
        result["msg"] = reason
    module.exit_json(**result)


if __name__ == "__main__":
    main()
