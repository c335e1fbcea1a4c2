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
extends_documentation_fragment:
  - opsforge.webstack.postgres
attributes:
  check_mode:
    support: full
    description: Inspects the server and returns the action and the commands it would run, with passwords masked.
  diff_mode:
    support: none
    description: Nothing is reported as a diff.
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

import grp
import os
import pwd
import shlex
import shutil
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opsforge.webstack.plugins.module_utils.postgres import (
    HAS_PSYCOPG2,
    build_conninfo,
    describe_target,
    elapsed_ms,
    ensure_psycopg2,
    fetch_one,
    format_lsn,
    mask_secrets,
    parse_conninfo,
    parse_controldata,
    parse_lsn,
    postgres_common_argument_spec,
    strip_conninfo_password,
    timeline_diverged,
    try_connect,
)

if HAS_PSYCOPG2:
    import psycopg2
    import psycopg2.extras

NONE = "none"
CONFIGURE = "configure"
START = "start"
CLONE = "clone"
REWIND = "rewind"
AUTO_CONF = "postgresql.auto.conf"
IGNORED_ENTRIES = ("lost+found",)


class Refused(Exception):
    """The module will not act on this data directory; the message says why and what to do."""


# --------------------------------------------------------------------------
# pure helpers
# --------------------------------------------------------------------------


def default_commands(pg_version, cluster_name):
    """Debian's pg_ctlcluster start and stop lines for a cluster (pure)."""
    start = ["pg_ctlcluster", str(pg_version), cluster_name, "start"]
    stop = ["pg_ctlcluster", str(pg_version), cluster_name, "stop", "-m", "fast"]
    return start, stop


def desired_conninfo_pairs(params):
    """Ordered (key, value) pairs of the primary_conninfo to write (pure)."""
    return [
        ("user", params["replication_user"]),
        ("password", params.get("replication_password")),
        ("host", params["primary_host"]),
        ("port", str(params["primary_port"])),
        ("application_name", params.get("application_name")),
    ]


def conninfo_differences(current_text, desired_pairs):
    """Names of the conninfo keys whose current value differs from the wanted one (pure).

    Keys the caller does not set (no password, no application_name) are not compared.
    """
    try:
        current = parse_conninfo(current_text or "")
    except ValueError:
        return ["primary_conninfo (unparseable)"]
    return [key for key, value in desired_pairs if value not in (None, "") and current.get(key) != str(value)]


def quote_guc(value):
    """Quote a value for postgresql.auto.conf (pure)."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "''") + "'"


def parse_auto_conf(text):
    """Settings from a postgresql.auto.conf text, last one wins (pure)."""
    settings = {}
    for raw_line in (text or "").splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, rest = line.split("=", 1)
        key = key.strip().lower()
        rest = rest.strip()
        if rest.startswith("'"):
            value, pos = [], 1
            while pos < len(rest):
                char = rest[pos]
                if char == "\\" and pos + 1 < len(rest):
                    value.append(rest[pos + 1])
                    pos += 2
                    continue
                if char == "'":
                    if rest[pos + 1 : pos + 2] == "'":
                        value.append("'")
                        pos += 2
                        continue
                    break
                value.append(char)
                pos += 1
            settings[key] = "".join(value)
        else:
            settings[key] = rest.split("#", 1)[0].strip()
    return settings


def update_auto_conf(text, settings):
    """Return postgresql.auto.conf text with the given settings replaced; a None value removes the key (pure)."""
    keys = {key.lower() for key in settings}
    kept = []
    for line in (text or "").splitlines():
        stripped = line.strip()
        is_setting = stripped and not stripped.startswith("#") and "=" in stripped
        if is_setting and stripped.split("=", 1)[0].strip().lower() in keys:
            continue
        kept.append(line)
    if not kept:
        kept = ["# Do not edit this file manually!", "# It will be overwritten by the ALTER SYSTEM command."]
    for key, value in settings.items():
        if value is not None:
            kept.append(f"{key} = {quote_guc(value)}")
    return "\n".join(kept) + "\n"


def standby_settings(params):
    """The settings pg_standby owns in postgresql.auto.conf (pure)."""
    return {
        "primary_conninfo": build_conninfo(desired_conninfo_pairs(params)),
        "primary_slot_name": params.get("slot_name") or None,
    }


def is_streaming_from(receiver, host, port):
    """Does a pg_stat_wal_receiver row show streaming from host:port? (pure)"""
    if not receiver:
        return False
    return (
        receiver.get("status") == "streaming"
        and str(receiver.get("sender_host")) == str(host)
        and int(receiver.get("sender_port") or 0) == int(port)
    )


def config_differences(local, params):
    """What differs between the local standby settings and the wanted ones (pure)."""
    diffs = conninfo_differences(local.get("primary_conninfo"), desired_conninfo_pairs(params))
    if (local.get("primary_slot_name") or None) != (params.get("slot_name") or None):
        diffs.append("primary_slot_name")
    return diffs


def decide_action(local, params, primary=None):
    """Pick (action, reason) from what was found locally and, optionally, on the primary (pure).

    Raises Refused when acting would be unsafe.
    """
    if params.get("reclone"):
        return CLONE, "reclone=true"
    if not local["exists"]:
        return CLONE, "the data directory does not exist"
    if local["empty"]:
        return CLONE, "the data directory is empty"
    if not local["has_pg_version"]:
        raise Refused(
            f"{local['path']} is not empty and holds no PG_VERSION, so it is not a PostgreSQL data directory. "
            "Empty it or point data_directory elsewhere; set reclone=true to replace its contents."
        )
    running_primary = local["running"] and not local["in_recovery"]
    if running_primary and not params.get("stop_running_primary"):
        raise Refused(
            f"{local['path']} belongs to a running primary (not in recovery). Refusing to stop it: set "
            "stop_running_primary=true to stop and rewind it into a standby, or reclone=true to replace it with a "
            "fresh copy of the primary."
        )
    if running_primary:
        refuse_to_stop_primary(local, params, primary)
    known_ids = primary and local.get("system_identifier") and primary.get("system_identifier")
    if known_ids and str(local["system_identifier"]) != str(primary["system_identifier"]):
        raise Refused(
            f"{local['path']} belongs to another cluster (system identifier {local['system_identifier']}, the "
            f"primary has {primary['system_identifier']}); it cannot follow that primary. Set reclone=true to "
            "replace it with a fresh copy."
        )
    is_standby = local["in_recovery"] if local["running"] else local["standby_signal"]
    if not is_standby:
        return REWIND, "the data belongs to a former primary (no standby.signal / not in recovery)"
    if primary and timeline_diverged(
        local.get("timeline"), local.get("lsn"), primary.get("timeline"), primary.get("history")
    ):
        return REWIND, (
            f"the local timeline {local.get('timeline')} at {local.get('lsn')} has left the history of the primary "
            f"(timeline {primary.get('timeline')})"
        )
    diffs = config_differences(local, params)
    if diffs:
        return CONFIGURE, "settings differ: " + ", ".join(diffs)
    if not local["running"]:
        return START, "configured as a standby of this primary but not running"
    if is_streaming_from(local.get("wal_receiver"), params["primary_host"], params["primary_port"]):
        return NONE, "already streaming from the primary"
    return NONE, "configured as a standby of this primary and running; waiting for it to stream"


def refuse_to_stop_primary(local, params, primary):
    """Raise Refused unless the wanted primary was promoted after this running primary (pure).

    Stopping a live primary is only right when the target is on a newer timeline; otherwise the target
    may be this very server, or an older copy, and stopping would leave no primary at all.
    """
    target = f"{params['primary_host']}:{params['primary_port']}"
    if not primary:
        raise Refused(
            f"{local['path']} belongs to a running primary and {target} could not be asked for its timeline, so "
            "there is no proof that it replaced this server. Refusing to stop it; fix the replication connection "
            "to the primary and run again."
        )
    if local.get("timeline") is not None and int(primary.get("timeline") or 0) <= int(local["timeline"]):
        raise Refused(
            f"{target} is on timeline {primary.get('timeline')}, not newer than this running primary's timeline "
            f"{local['timeline']}: it was not promoted after this server (or it is this server). Refusing to stop it."
        )


def needs_primary_probe(local, params):
    """Is the primary worth asking (identity, timeline) before deciding? (pure)"""
    if params.get("reclone") or not local["exists"] or local["empty"] or not local["has_pg_version"]:
        return False
    if local["running"] and local["in_recovery"]:
        return not (
            is_streaming_from(local.get("wal_receiver"), params["primary_host"], params["primary_port"])
            and not config_differences(local, params)
        )
    return True


def as_user(cmd, os_user, euid):
    """Prefix a command with runuser when running as root (pure)."""
    if euid == 0 and os_user and os_user != "root":
        return ["runuser", "-u", os_user, "--", *cmd]
    return list(cmd)


def basebackup_command(bin_dir, data_dir, params):
    """pg_basebackup argv; the password is not in it (pure)."""
    source = build_conninfo(
        [
            ("host", params["primary_host"]),
            ("port", str(params["primary_port"])),
            ("user", params["replication_user"]),
            ("application_name", params.get("application_name")),
        ]
    )
    cmd = [
        os.path.join(bin_dir, "pg_basebackup"),
        "-D",
        data_dir,
        "-d",
        source,
        "-X",
        "stream",
        "-c",
        params.get("checkpoint") or "fast",
        "-w",
    ]
    if params.get("slot_name"):
        cmd += ["-S", params["slot_name"]]
    return cmd


def rewind_credentials(params):
    """(user, password) pg_rewind connects with (pure)."""
    if params.get("rewind_user"):
        return params["rewind_user"], params.get("rewind_password")
    return params["replication_user"], params.get("rewind_password") or params.get("replication_password")


def rewind_command(bin_dir, data_dir, params, config_file=None):
    """pg_rewind argv; the password is not in it (pure)."""
    user, _password = rewind_credentials(params)
    source = build_conninfo(
        [
            ("host", params["primary_host"]),
            ("port", str(params["primary_port"])),
            ("user", user),
            ("dbname", params.get("rewind_dbname") or "postgres"),
        ]
    )
    cmd = [os.path.join(bin_dir, "pg_rewind"), "-D", data_dir, "--source-server=" + source, "--progress"]
    if config_file:
        cmd.append("--config-file=" + config_file)
    return cmd


def build_plan(action, local, params, bin_dir, start_cmd, stop_cmd, euid, config_file=None):
    """The steps for an action, as (kind, argument) tuples (pure).

    kinds: run (argv, as-is), run_as (argv, run as os_user), clear (path), mkdir (path),
    write_settings (dict), signal (path), reload (None).
    """
    data_dir = params["data_directory"]
    os_user = params.get("os_user")
    plan = []
    if action == NONE:
        return plan
    if action in (CLONE, REWIND) and local["running"]:
        plan.append(("run", list(stop_cmd)))
    if action == CLONE:
        if not local["exists"]:
            plan.append(("mkdir", data_dir))
        elif not local["empty"]:
            plan.append(("clear", data_dir))
        plan.append(("run_as", as_user(basebackup_command(bin_dir, data_dir, params), os_user, euid)))
    if action == REWIND:
        plan.append(("run_as", as_user(rewind_command(bin_dir, data_dir, params, config_file), os_user, euid)))
    if action in (CLONE, REWIND, CONFIGURE):
        plan.append(("write_settings", standby_settings(params)))
        plan.append(("signal", os.path.join(data_dir, "standby.signal")))
    if action == CONFIGURE and local["running"]:
        plan.append(("reload", None))
    else:
        plan.append(("run", list(start_cmd)))
    return plan


def describe_plan(plan, secrets, data_dir):
    """Readable lines for the plan, with every secret masked (pure)."""
    lines = []
    for kind, arg in plan:
        if kind in ("run", "run_as"):
            text = " ".join(shlex.quote(part) for part in arg)
        elif kind == "clear":
            text = f"remove everything inside {arg}"
        elif kind == "mkdir":
            text = f"create {arg} (mode 0700)"
        elif kind == "write_settings":
            parts = ", ".join(
                f"{key} = {quote_guc(value) if value is not None else '(removed)'}" for key, value in arg.items()
            )
            text = f"set in {os.path.join(data_dir, AUTO_CONF)}: {parts}"
        elif kind == "signal":
            text = f"create {arg}"
        else:
            text = "SELECT pg_reload_conf()"
        lines.append(mask_secrets(text, secrets))
    return lines


# --------------------------------------------------------------------------
# reading the local node and the primary
# --------------------------------------------------------------------------


def postmaster_running(data_dir):
    """Is a postmaster alive for this data directory (postmaster.pid + live process)?"""
    pid_file = os.path.join(data_dir, "postmaster.pid")
    try:
        with open(pid_file) as handle:
            first = handle.readline().strip()
    except OSError:
        return False
    if not first.lstrip("-").isdigit():
        return False
    pid = abs(int(first))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def inspect_local(module, params):
    data_dir = params["data_directory"]
    local = {
        "path": data_dir,
        "exists": os.path.isdir(data_dir),
        "empty": True,
        "has_pg_version": False,
        "standby_signal": False,
        "running": False,
        "in_recovery": False,
        "pg_version": None,
    }
    if not local["exists"]:
        if os.path.exists(data_dir):
            module.fail_json(msg=f"data_directory {data_dir} exists but is not a directory.")
        return local
    try:
        entries = [name for name in os.listdir(data_dir) if name not in IGNORED_ENTRIES]
    except OSError as exc:
        module.fail_json(msg=f"Cannot read data_directory {data_dir}: {exc}. Run the task with become=true.")
    local["empty"] = not entries
    local["has_pg_version"] = "PG_VERSION" in entries
    local["standby_signal"] = "standby.signal" in entries
    if local["has_pg_version"]:
        with open(os.path.join(data_dir, "PG_VERSION")) as handle:
            local["pg_version"] = handle.read().strip()
    if local["has_pg_version"]:
        local["running"] = postmaster_running(data_dir)
    return local


def inspect_running(module, params, local):
    conn, err = try_connect(params)
    if conn is None:
        module.fail_json(
            msg=f"The server of {local['path']} runs but connecting as {describe_target(params)} failed: {err}. "
            "Set login_host/login_port/login_user so the module can inspect it."
        )
    try:
        row = fetch_one(
            conn,
            "SELECT pg_is_in_recovery() AS in_recovery, current_setting('primary_conninfo') AS primary_conninfo, "
            "current_setting('primary_slot_name') AS primary_slot_name, "
            "(SELECT system_identifier::text FROM pg_control_system()) AS system_identifier",
        )
        local.update(row)
        if row["in_recovery"]:
            pos = fetch_one(
                conn,
                "SELECT COALESCE(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::text AS lsn, "
                "(SELECT timeline_id FROM pg_control_checkpoint()) AS checkpoint_tli",
            )
            local["wal_receiver"] = read_wal_receiver(conn)
            tli = (local["wal_receiver"] or {}).get("received_tli") or pos["checkpoint_tli"]
            local.update(lsn=pos["lsn"], timeline=int(tli) if tli else None)
        else:
            pos = fetch_one(
                conn, "SELECT pg_current_wal_lsn()::text AS lsn, pg_walfile_name(pg_current_wal_lsn()) AS walfile"
            )
            local.update(lsn=pos["lsn"], timeline=int(pos["walfile"][:8], 16), wal_receiver=None)
    except psycopg2.Error as exc:
        module.fail_json(
            msg=f"Inspecting the server of {local['path']} as {describe_target(params)} failed: {str(exc).strip()}. "
            "login_user must be a superuser (it reads primary_conninfo)."
        )
    finally:
        conn.close()


def read_wal_receiver(conn):
    row = fetch_one(
        conn,
        "SELECT status, sender_host, sender_port, slot_name, received_tli, conninfo FROM pg_stat_wal_receiver",
    )
    if row:
        row["conninfo"] = strip_conninfo_password(row.get("conninfo"))
    return row


def inspect_stopped(module, params, local, bin_dir):
    data_dir = local["path"]
    rc, out, err = module.run_command([os.path.join(bin_dir, "pg_controldata"), "-D", data_dir])
    if rc != 0:
        module.fail_json(msg=f"pg_controldata -D {data_dir} failed (rc={rc}): {err.strip() or out.strip()}")
    control = parse_controldata(out)
    positions = [lsn for lsn in (control["checkpoint_lsn"], control["min_recovery_lsn"]) if lsn]
    local.update(
        system_identifier=control["system_identifier"],
        cluster_state=control["state"],
        timeline=control["timeline"],
        lsn=format_lsn(max(parse_lsn(lsn) for lsn in positions)) if positions else None,
        wal_receiver=None,
    )
    settings = {}
    try:
        with open(os.path.join(data_dir, AUTO_CONF)) as handle:
            settings = parse_auto_conf(handle.read())
    except OSError:
        pass
    local["primary_conninfo"] = settings.get("primary_conninfo", "")
    local["primary_slot_name"] = settings.get("primary_slot_name", "")


def probe_primary(params):
    """IDENTIFY_SYSTEM and TIMELINE_HISTORY over a replication connection; returns (info, error)."""
    kwargs = {
        "host": params["primary_host"],
        "port": params["primary_port"],
        "user": params["replication_user"],
        "connect_timeout": params.get("connect_timeout") or 10,
        "connection_factory": psycopg2.extras.PhysicalReplicationConnection,
    }
    if params.get("replication_password"):
        kwargs["password"] = params["replication_password"]
    try:
        conn = psycopg2.connect(**kwargs)
    except psycopg2.Error as exc:
        return None, str(exc).strip()
    try:
        cursor = conn.cursor()
        cursor.execute("IDENTIFY_SYSTEM")
        systemid, timeline, xlogpos = cursor.fetchone()[:3]
        info = {"system_identifier": str(systemid), "timeline": int(timeline), "lsn": xlogpos, "history": ""}
        if info["timeline"] > 1:
            cursor.execute(f"TIMELINE_HISTORY {info['timeline']}")
            content = cursor.fetchone()[1]
            if isinstance(content, memoryview):
                content = content.tobytes()
            info["history"] = content.decode() if isinstance(content, bytes) else str(content)
        return info, None
    except psycopg2.Error as exc:
        return None, str(exc).strip()
    finally:
        conn.close()


# --------------------------------------------------------------------------
# acting
# --------------------------------------------------------------------------


def owner_of(path):
    info = os.stat(path)
    return info.st_uid, info.st_gid


def give_to_owner(path, owner):
    if os.geteuid() == 0 and owner:
        os.chown(path, owner[0], owner[1])


def write_file_atomic(path, content, owner, mode=0o600):
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".pg_standby.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
        os.chmod(tmp, mode)
        give_to_owner(tmp, owner)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def clear_directory(path):
    for name in os.listdir(path):
        full = os.path.join(path, name)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        else:
            os.unlink(full)


def make_data_dir(module, path, os_user):
    os.makedirs(path, mode=0o700)
    os.chmod(path, 0o700)
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam(os_user)
        except KeyError:
            module.fail_json(msg=f"os_user {os_user} does not exist on this host; cannot create {path} for it.")
        os.chown(path, user.pw_uid, grp.getgrgid(user.pw_gid).gr_gid)


def execute_plan(module, plan, params, secrets, env):
    data_dir = params["data_directory"]
    for kind, arg in plan:
        if kind in ("run", "run_as"):
            rc, out, err = module.run_command(arg, environ_update=env if kind == "run_as" else None, cwd="/")
            if rc != 0:
                shown = describe_plan([(kind, arg)], secrets, data_dir)[0]
                detail = mask_secrets((err.strip() or out.strip())[-2000:], secrets)
                module.fail_json(
                    msg=f"'{shown}' failed on this host (rc={rc}): {detail}",
                    commands=describe_plan(plan, secrets, data_dir),
                )
        elif kind == "mkdir":
            make_data_dir(module, arg, params["os_user"])
        elif kind == "clear":
            clear_directory(arg)
        elif kind == "write_settings":
            path = os.path.join(data_dir, AUTO_CONF)
            current = ""
            if os.path.exists(path):
                with open(path) as handle:
                    current = handle.read()
            write_file_atomic(path, update_auto_conf(current, arg), owner_of(data_dir))
        elif kind == "signal":
            write_file_atomic(arg, "", owner_of(data_dir))
        elif kind == "reload":
            conn, err = try_connect(params)
            if conn is None:
                module.fail_json(msg=f"Could not connect to reload the configuration: {err}")
            try:
                fetch_one(conn, "SELECT pg_reload_conf() AS ok")
            finally:
                conn.close()


def wait_streaming(params, deadline):
    """Poll until the WAL receiver streams from the primary; return (receiver row, last seen text)."""
    last_seen = "nothing yet"
    while True:
        conn, err = try_connect(params)
        if conn is None:
            last_seen = f"cannot connect to the local server: {err}"
        else:
            try:
                receiver = read_wal_receiver(conn)
                if is_streaming_from(receiver, params["primary_host"], params["primary_port"]):
                    return receiver, None
                last_seen = f"pg_stat_wal_receiver: {receiver}" if receiver else "no WAL receiver running"
            except psycopg2.Error as exc:
                last_seen = f"query failed: {str(exc).strip()}"
            finally:
                conn.close()
        if time.monotonic() >= deadline:
            return None, last_seen
        time.sleep(0.25)


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
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    ensure_psycopg2(module)
    params = module.params
    error = validate_params(params)
    if error:
        module.fail_json(msg=error)
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
    rewind_password = rewind_credentials(params)[1]
    env = {}
    if action == CLONE and params.get("replication_password"):
        env["PGPASSWORD"] = params["replication_password"]
    if action == REWIND and rewind_password:
        env["PGPASSWORD"] = rewind_password
    execute_plan(module, plan, params, secrets, env)
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
