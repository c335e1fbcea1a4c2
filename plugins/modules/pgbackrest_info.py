#!/usr/bin/python
# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: pgbackrest_info
short_description: Report a pgBackRest stanza's backups and WAL archiving, and fail when they are stale
version_added: 0.1.0
description:
  - Runs C(pgbackrest --stanza=STANZA info --output=json) and returns the stanza's status and its backups (label,
    type, start and stop, sizes, WAL range).
  - Reads C(pg_stat_archiver) over a PostgreSQL connection for the live state of WAL archiving (last archived
    segment and time, failures), unless O(check_archiver=false).
  - With O(max_backup_age) and O(max_archive_age) it fails, saying what is stale and what to run, when the newest
    full or differential backup or the last archived WAL is older than that.
  - Fails when pgBackRest cannot read the repository (wrong credentials, untrusted TLS certificate, store
    unreachable, wrong cipher passphrase, no stanza), naming the likely cause.
author:
  - opsforge developers (@opsforge)
extends_documentation_fragment:
  - opsforge.webstack.attributes.read_only
options:
  stanza:
    description: The pgBackRest stanza.
    type: str
    required: true
  config:
    description: pgBackRest's configuration file (C(--config)).
    type: path
    default: /etc/pgbackrest/pgbackrest.conf
  os_user:
    description:
      - Run pgBackRest as this OS user (with C(runuser)) when the module runs as root. The configuration file and the
        log and lock directories must be readable by that user; C(postgres) on a database host.
      - Leave unset to run it as the user the module runs as.
    type: str
  executable:
    description: Path or name of the C(pgbackrest) program.
    type: path
    default: pgbackrest
  max_backup_age:
    description:
      - Fail when the newest full or differential backup finished more than this many seconds ago (or there is none).
    type: int
  max_archive_age:
    description:
      - Fail when the last WAL segment was archived more than this many seconds ago while WAL has been written since,
        or when archiving is failing now (C(pg_stat_archiver) shows a failure after the last success).
      - An idle server that wrote no WAL since its last archived segment is not stale.
      - Not checked on a standby. Needs O(check_archiver=true).
    type: int
  check_archiver:
    description: Read C(pg_stat_archiver) from PostgreSQL with the login options below.
    type: bool
    default: true
  login_host:
    description: Host name or IP address of PostgreSQL. When empty, O(login_unix_socket) is used.
    type: str
    default: ''
  login_unix_socket:
    description: Directory of PostgreSQL's unix socket, used when O(login_host) is empty.
    type: str
    default: /var/run/postgresql
  port:
    description: PostgreSQL's port.
    type: int
    default: 5432
    aliases: [login_port]
  login_user:
    description: The role to connect as; a superuser or a member of C(pg_monitor).
    type: str
    default: postgres
  login_password:
    description: The password of O(login_user). Leave empty for peer authentication or C(~/.pgpass).
    type: str
    default: ''
  login_db:
    description: Database to connect to.
    type: str
    default: postgres
    aliases: [db]
  connect_timeout:
    description: Seconds to wait for a PostgreSQL connection.
    type: int
    default: 10
requirements:
  - pgBackRest on the host that runs the module
  - psycopg2 (or psycopg2-binary) when O(check_archiver=true)
notes:
  - The PostgreSQL options use community.postgresql's names (O(login_host), O(login_unix_socket), O(port)).
  - pgBackRest's C(info) runs no backup and takes no lock; it lists the repository, which costs a few requests.
seealso:
  - module: opsforge.webstack.pg_replication_info
"""

EXAMPLES = r"""
- name: Fail when the last full/diff backup is older than 26 hours or WAL archiving is behind by more than 2 minutes
  opsforge.webstack.pgbackrest_info:
    stanza: webstack
    os_user: postgres
    max_backup_age: 93600
    max_archive_age: 120
  become: true

- name: Only the repository, from a host without PostgreSQL
  opsforge.webstack.pgbackrest_info:
    stanza: webstack
    config: /etc/pgbackrest/pgbackrest.conf
    check_archiver: false
  register: __backups

- name: Show the backups
  ansible.builtin.debug:
    msg: "{{ __backups.backups | map(attribute='label') | list }}"
"""

RETURN = r"""
stanza:
  description: The stanza's name.
  returned: always
  type: str
  sample: webstack
status:
  description: pgBackRest's status of the stanza (code 0 ok, 2 no valid backup).
  returned: always
  type: dict
  sample: {"code": 0, "message": "ok", "backup_running": false}
cipher:
  description: The repository's cipher.
  returned: always
  type: str
  sample: aes-256-cbc
backups:
  description: The backups, oldest first, as pgBackRest lists them. Times are UTC ISO 8601; sizes in bytes.
  returned: always
  type: list
  elements: dict
  sample: [{"label": "20261203-061349F", "type": "full", "prior": null, "error": false,
            "start": "2026-12-03T06:13:49Z", "stop": "2026-12-03T06:13:50Z", "start_epoch": 1796278429,
            "stop_epoch": 1796278430, "wal_start": "000000010000000000000012", "wal_stop": "000000010000000000000012",
            "size": 336787225, "delta": 336787225, "repository_size": 17059216, "repository_delta": 17059216}]
archive:
  description: WAL ranges in the repository, per PostgreSQL version and system id.
  returned: always
  type: list
  elements: dict
  sample: [{"id": "15-1", "min": "000000010000000000000001", "max": "000000010000000000000015"}]
archiver:
  description: C(pg_stat_archiver) and the server's WAL position; null when O(check_archiver=false).
  returned: always
  type: dict
  sample: {"archived_count": 21, "last_archived_wal": "000000010000000000000015",
           "last_archived_time": "2026-12-03T06:15:01Z", "failed_count": 0, "last_failed_wal": null,
           "last_failed_time": null, "current_lsn": "0/16000060", "in_recovery": false}
freshness:
  description:
    - The newest full/diff backup, its age and the archive's age in seconds, the WAL bytes not yet archived, and whether
      archiving is failing now (null without the archiver).
  returned: always
  type: dict
  sample: {"last_backup": "20261203-061349F", "last_backup_age": 300, "archive_age": 12, "wal_pending_bytes": 96,
           "archive_failing": false}
command:
  description: The command that was run.
  returned: always
  type: list
  elements: str
"""

import os
import pwd
from datetime import datetime, timezone

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opsforge.webstack.plugins.module_utils import pgbackrest as pgb
from ansible_collections.opsforge.webstack.plugins.module_utils import postgres as pg
from ansible_collections.opsforge.webstack.plugins.module_utils.lsn import parse_lsn


def connection_params(params):
    """community.postgresql option names -> what module_utils/postgres.py takes today (kept small on purpose:
    this is the one place to change when that layer moves to the new names)."""
    return {
        "login_host": params["login_host"] or params["login_unix_socket"],
        "login_port": params["port"],
        "login_user": params["login_user"],
        "login_password": params["login_password"],
        "login_db": params["login_db"],
        "connect_timeout": params["connect_timeout"],
    }


def read_archiver(module):
    conn = pg.connect(module, params=connection_params(module.params))
    try:
        row = pg.fetch_one(conn, pgb.ARCHIVER_SQL)
    finally:
        conn.close()
    row["current_lsn_int"] = parse_lsn(row["current_lsn"]) if row["current_lsn"] else None
    return row


def info_command(params, euid, current_user):
    """The pgbackrest info command line, run as os_user through runuser when we are root (pure).
    Raises ValueError when os_user is another user and we cannot switch to it."""
    command = [
        params["executable"],
        f"--config={params['config']}",
        f"--stanza={params['stanza']}",
        "--output=json",
        "info",
    ]
    if not params["os_user"] or params["os_user"] == current_user:
        return command
    if euid != 0:
        raise ValueError(
            f"os_user={params['os_user']} needs the module to run as root (become: true), or as that user "
            f"(become_user: {params['os_user']}); it runs as {current_user}"
        )
    return ["runuser", "-u", params["os_user"], "--", *command]


def run_info(module):
    params = module.params
    try:
        command = info_command(params, os.geteuid(), pwd.getpwuid(os.geteuid()).pw_name)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    try:
        rc, out, err = module.run_command(command, encoding=None)
    except OSError as exc:  # run_command raises when the program does not exist
        module.fail_json(msg=f"Could not run {command[0]}: {exc}. Install pgBackRest (apt-get install pgbackrest).")
    out = out.decode("utf-8", "replace")
    err = err.decode("utf-8", "replace")
    if rc != 0:
        module.fail_json(
            msg=f"{' '.join(command)} failed with exit code {rc}: {(err or out).strip()[:1000]}", command=command
        )
    try:
        data = pgb.load_info(out)
    except ValueError as exc:
        module.fail_json(msg=f"pgbackrest info printed no JSON ({exc}): {out[:300]}", command=command)
    return command, data


def iso(value):
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def main():
    module = AnsibleModule(
        argument_spec={
            "stanza": {"type": "str", "required": True},
            "config": {"type": "path", "default": "/etc/pgbackrest/pgbackrest.conf"},
            "os_user": {"type": "str"},
            "executable": {"type": "path", "default": "pgbackrest"},
            "max_backup_age": {"type": "int"},
            "max_archive_age": {"type": "int"},
            "check_archiver": {"type": "bool", "default": True},
            "login_host": {"type": "str", "default": ""},
            "login_unix_socket": {"type": "str", "default": pg.DEFAULT_SOCKET_DIR},
            "port": {"type": "int", "default": 5432, "aliases": ["login_port"]},
            "login_user": {"type": "str", "default": "postgres"},
            "login_password": {"type": "str", "default": "", "no_log": True},
            "login_db": {"type": "str", "default": "postgres", "aliases": ["db"]},
            "connect_timeout": {"type": "int", "default": 10},
        },
        supports_check_mode=True,
    )
    params = module.params
    for name in ("max_backup_age", "max_archive_age"):
        if params[name] is not None and params[name] <= 0:
            module.fail_json(msg=f"{name} must be a number of seconds above 0, not {params[name]}")
    if params["max_archive_age"] is not None and not params["check_archiver"]:
        module.fail_json(msg="max_archive_age needs check_archiver=true: the archive's age comes from pg_stat_archiver")
    if params["executable"] == "pgbackrest":
        params["executable"] = module.get_bin_path("pgbackrest", required=False) or "pgbackrest"

    command, data = run_info(module)
    stanza = pgb.find_stanza(data, params["stanza"])
    if stanza is None:
        module.fail_json(msg=f"pgbackrest info did not list stanza {params['stanza']!r}", command=command)
    summary = pgb.stanza_summary(stanza)
    result = {
        "changed": False,
        "command": command,
        "stanza": summary["name"],
        "status": {
            "code": summary["status_code"],
            "message": summary["status_message"],
            "backup_running": summary["backup_running"],
        },
        "cipher": summary["cipher"],
        "backups": summary["backups"],
        "archive": summary["archive"],
        "archiver": None,
    }
    problem = pgb.explain_status(summary, params["stanza"])
    if problem:
        module.fail_json(msg=problem, **result)

    archiver = None
    if params["check_archiver"]:
        row = read_archiver(module)
        result["archiver"] = {
            "archived_count": row["archived_count"],
            "last_archived_wal": row["last_archived_wal"],
            "last_archived_time": iso(row["last_archived_time"]),
            "failed_count": row["failed_count"],
            "last_failed_wal": row["last_failed_wal"],
            "last_failed_time": iso(row["last_failed_time"]),
            "current_lsn": row["current_lsn"],
            "in_recovery": row["in_recovery"],
        }
        archiver = dict(row, current_lsn=row["current_lsn_int"])
    facts, problems = pgb.freshness(
        summary,
        archiver,
        datetime.now(timezone.utc),
        params["max_backup_age"],
        params["max_archive_age"],
        params["stanza"],
    )
    result["freshness"] = facts
    if problems:
        module.fail_json(msg=f"Stanza {params['stanza']!r} is stale: " + " ".join(problems), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
