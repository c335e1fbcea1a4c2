#!/usr/bin/python
# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: pg_replication_info
short_description: Report the streaming replication state of a PostgreSQL primary or standby
version_added: 0.1.0
description:
  - Connects to one PostgreSQL server and reports whether it is a primary or a standby, its timeline and WAL
    positions, the standbys streaming from it, its replication slots, its WAL receiver and the settings that
    wait for a restart.
  - Runs only read-only queries and never changes anything.
  - With O(warn_inactive_slots), warns about each of those slots no client streams from, with the WAL it retains.
options:
  warn_inactive_slots:
    description:
      - Names of replication slots to warn about when they exist and no client uses them, for example the slots
        of a primary's standbys. The warning names the slot and the WAL it keeps on the server.
      - A slot nobody streams from keeps WAL on the server until its client comes back or the WAL exceeds
        C(max_slot_wal_keep_size); a standby whose slot lost that WAL must be cloned again.
    type: list
    elements: str
    default: []
    version_added: 0.1.0
author:
  - opsforge developers (@opsforge)
extends_documentation_fragment:
  - opsforge.webstack.attributes.read_only
  - opsforge.webstack.postgres
  - opsforge.webstack.postgres.tls
notes:
  - Connect as a superuser or a member of C(pg_monitor); other roles see nulls in C(pg_stat_replication) and
    C(pg_stat_wal_receiver).
  - O(login_db) must be a database the role may connect to; every query reads cluster-wide views.
seealso:
  - module: opsforge.webstack.pg_standby
  - module: opsforge.webstack.pg_promote
"""

EXAMPLES = r"""
- name: Read the replication state of every database node
  opsforge.webstack.pg_replication_info:
  become: true
  become_user: postgres
  register: __repl

- name: Refuse to go on when a standby lags by more than 16 MiB
  ansible.builtin.assert:
    that: (__repl.replicas | map(attribute='lag_bytes') | max | default(0)) < 16777216
    fail_msg: "A standby is {{ __repl.replicas | map(attribute='lag_bytes') | max }} bytes behind"
  when: __repl.role == 'primary'

- name: Warn when a standby's slot on the primary is not in use
  opsforge.webstack.pg_replication_info:
    warn_inactive_slots: [db2, db3]
  become: true
  become_user: postgres

- name: Over TCP with a monitoring role
  opsforge.webstack.pg_replication_info:
    login_host: 10.0.0.11
    login_user: monitor
    login_password: "{{ monitor_password }}"
"""

RETURN = r"""
role:
  description: V(primary) or V(standby) (C(pg_is_in_recovery())).
  returned: always
  type: str
  sample: standby
in_recovery:
  description: Whether the server is in recovery.
  returned: always
  type: bool
  sample: true
server_version:
  description: The server version as it reports it.
  returned: always
  type: str
  sample: "15.8 (Debian 15.8-0+deb12u1)"
server_version_num:
  description: The server version as a number.
  returned: always
  type: int
  sample: 150008
system_identifier:
  description: The cluster's system identifier (the same on a primary and its standbys).
  returned: always
  type: str
  sample: "7301234567890123456"
timeline:
  description:
    - The current timeline. On a primary, the timeline of the WAL being written; on a standby, the timeline
      received by the WAL receiver or, without one, the timeline of the last restartpoint.
  returned: always
  type: int
  sample: 3
current_lsn:
  description: C(pg_current_wal_lsn()) on a primary, null on a standby.
  returned: always
  type: str
  sample: 0/3000148
receive_lsn:
  description: C(pg_last_wal_receive_lsn()) on a standby, null on a primary.
  returned: always
  type: str
  sample: 0/3000148
replay_lsn:
  description: C(pg_last_wal_replay_lsn()) on a standby, null on a primary.
  returned: always
  type: str
  sample: 0/3000148
replay_lag_bytes:
  description: Bytes received but not yet replayed on a standby; null on a primary.
  returned: always
  type: int
  sample: 0
replay_lag_seconds:
  description:
    - On a standby, seconds since the last replayed transaction committed on the primary
      (C(now() - pg_last_xact_replay_timestamp())); null when nothing was replayed yet, and on a primary.
    - It grows while the primary is idle, so read it together with RV(replay_lag_bytes).
  returned: always
  type: float
  sample: 0.42
replicas:
  description: The standbys streaming from this server (C(pg_stat_replication)); empty on most standbys.
  returned: always
  type: list
  elements: dict
  contains:
    application_name:
      description: The standby's application_name.
      type: str
    client_addr:
      description: The standby's address; null over a unix socket.
      type: str
    state:
      description: The WAL sender state, for example V(streaming) or V(catchup).
      type: str
    sync_state:
      description: V(async), V(potential), V(sync) or V(quorum).
      type: str
    sent_lsn:
      description: Last WAL position sent.
      type: str
    write_lsn:
      description: Last WAL position written by the standby.
      type: str
    flush_lsn:
      description: Last WAL position flushed by the standby.
      type: str
    replay_lsn:
      description: Last WAL position replayed by the standby.
      type: str
    lag_bytes:
      description: Bytes between C(pg_current_wal_lsn()) and the standby's replay position.
      type: int
    write_lag_seconds:
      description: C(write_lag) in seconds; null when idle.
      type: float
    flush_lag_seconds:
      description: C(flush_lag) in seconds; null when idle.
      type: float
    replay_lag_seconds:
      description: C(replay_lag) in seconds; null when idle.
      type: float
  sample: [{"application_name": "db2", "client_addr": "10.0.0.12", "state": "streaming", "sync_state": "async",
            "sent_lsn": "0/3000148", "write_lsn": "0/3000148", "flush_lsn": "0/3000148", "replay_lsn": "0/3000148",
            "lag_bytes": 0, "write_lag_seconds": null, "flush_lag_seconds": null, "replay_lag_seconds": null}]
slots:
  description: Replication slots on this server (C(pg_replication_slots)).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Slot name.
      type: str
    type:
      description: V(physical) or V(logical).
      type: str
    active:
      description: Whether a client uses the slot now.
      type: bool
    restart_lsn:
      description: Oldest WAL position the slot keeps.
      type: str
    wal_status:
      description: V(reserved), V(extended), V(unreserved) or V(lost).
      type: str
    retained_bytes:
      description: WAL bytes kept for the slot (current, or on a standby received, position minus restart_lsn).
      type: int
  sample: [{"name": "db2", "type": "physical", "active": true, "restart_lsn": "0/3000000", "wal_status": "reserved",
            "retained_bytes": 328}]
wal_receiver:
  description: The WAL receiver of a standby (C(pg_stat_wal_receiver)); null when there is none.
  returned: always
  type: dict
  contains:
    status:
      description: V(streaming), V(starting), V(waiting), V(restarting) or V(stopping).
      type: str
      sample: streaming
    sender_host:
      description: The host it streams from.
      type: str
      sample: 10.0.0.11
    sender_port:
      description: The port it streams from.
      type: int
      sample: 5432
    slot_name:
      description: The slot it uses on the primary.
      type: str
      sample: db2
    received_tli:
      description: Timeline of the last WAL received.
      type: int
      sample: 2
    flushed_lsn:
      description: Last WAL position received and flushed.
      type: str
      sample: 0/3000148
    conninfo:
      description: The connection string it uses, without the password.
      type: str
  sample: {"status": "streaming", "sender_host": "10.0.0.11", "sender_port": 5432, "slot_name": "db2",
           "received_tli": 1, "flushed_lsn": "0/3000148", "conninfo": "user=replicator host=10.0.0.11 port=5432"}
pending_restart:
  description: Names of the settings that were changed but wait for a restart (C(pg_settings.pending_restart)).
  returned: always
  type: list
  elements: str
  sample: [shared_buffers]
"""


from ansible_collections.opsforge.webstack.plugins.module_utils.lsn import lsn_diff
from ansible_collections.opsforge.webstack.plugins.module_utils.postgres import (
    connect,
    current_timeline,
    describe_target,
    failing_on_db_error,
    fetch_all,
    fetch_one,
    new_module,
    postgres_common_argument_spec,
    strip_conninfo_password,
)

SERVER_SQL = """
SELECT pg_is_in_recovery() AS in_recovery,
       current_setting('server_version') AS server_version,
       current_setting('server_version_num')::int AS server_version_num,
       (SELECT system_identifier::text FROM pg_control_system()) AS system_identifier
"""

PRIMARY_SQL = "SELECT pg_current_wal_lsn()::text AS current_lsn"

STANDBY_SQL = """
SELECT pg_last_wal_receive_lsn()::text AS receive_lsn,
       pg_last_wal_replay_lsn()::text AS replay_lsn,
       EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8 AS replay_lag_seconds
"""

REPLICAS_SQL = """
SELECT application_name, client_addr::text AS client_addr, state, sync_state,
       sent_lsn::text AS sent_lsn, write_lsn::text AS write_lsn,
       flush_lsn::text AS flush_lsn, replay_lsn::text AS replay_lsn,
       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS lag_bytes,
       EXTRACT(EPOCH FROM write_lag)::float8 AS write_lag_seconds,
       EXTRACT(EPOCH FROM flush_lag)::float8 AS flush_lag_seconds,
       EXTRACT(EPOCH FROM replay_lag)::float8 AS replay_lag_seconds
FROM pg_stat_replication
ORDER BY application_name, client_addr
"""

SLOTS_SQL = """
SELECT slot_name AS name, slot_type AS type, active, restart_lsn::text AS restart_lsn, wal_status
FROM pg_replication_slots
ORDER BY slot_name
"""

WAL_RECEIVER_SQL = """
SELECT status, sender_host, sender_port, slot_name, received_tli,
       flushed_lsn::text AS flushed_lsn, conninfo
FROM pg_stat_wal_receiver
"""

PENDING_RESTART_SQL = "SELECT name FROM pg_settings WHERE pending_restart ORDER BY name"


def summarize_wal_receiver(row):
    """Shape a pg_stat_wal_receiver row for output, with the password removed (pure)."""
    if not row:
        return None
    result = dict(row)
    result["conninfo"] = strip_conninfo_password(row.get("conninfo"))
    if result.get("received_tli") is not None:
        result["received_tli"] = int(result["received_tli"])
    return result


def retained_bytes(slots, position):
    """Add retained_bytes (position - restart_lsn) to each slot dict (pure, returns new dicts)."""
    shaped = []
    for slot in slots:
        item = dict(slot)
        diff = lsn_diff(position, slot.get("restart_lsn"))
        item["retained_bytes"] = max(diff, 0) if diff is not None else None
        shaped.append(item)
    return shaped


def standby_replay_lag_bytes(receive_lsn, replay_lsn):
    """Bytes received but not replayed; never negative, None when either is unknown (pure)."""
    diff = lsn_diff(receive_lsn, replay_lsn)
    return max(diff, 0) if diff is not None else None


def inactive_slot_warnings(slots, names):
    """A warning for each slot of names that exists and no client uses (pure)."""
    warnings = []
    for slot in slots:
        if slot["name"] not in names or slot.get("active"):
            continue
        retained = slot.get("retained_bytes")
        kept = "an unknown amount of" if retained is None else f"{retained} bytes ({retained / 1048576:.1f} MiB) of"
        warnings.append(
            f"replication slot {slot['name']} is inactive: no standby streams from it, and it keeps {kept} WAL "
            f"(wal_status {slot.get('wal_status')}). Start its standby, or drop the slot if the standby is gone."
        )
    return warnings


def gather(conn):
    """Read everything the module returns from one connection."""
    server = fetch_one(conn, SERVER_SQL)
    in_recovery = bool(server["in_recovery"])
    info = {
        "role": "standby" if in_recovery else "primary",
        "in_recovery": in_recovery,
        "server_version": server["server_version"],
        "server_version_num": server["server_version_num"],
        "system_identifier": server["system_identifier"],
        "current_lsn": None,
        "receive_lsn": None,
        "replay_lsn": None,
        "replay_lag_bytes": None,
        "replay_lag_seconds": None,
    }
    if in_recovery:
        info.update(fetch_one(conn, STANDBY_SQL))
        info["replay_lag_bytes"] = standby_replay_lag_bytes(info["receive_lsn"], info["replay_lsn"])
        position = info["receive_lsn"] or info["replay_lsn"]
    else:
        info.update(fetch_one(conn, PRIMARY_SQL))
        position = info["current_lsn"]
    info["timeline"] = current_timeline(conn, in_recovery)
    info["replicas"] = [] if in_recovery else fetch_all(conn, REPLICAS_SQL)
    info["slots"] = retained_bytes(fetch_all(conn, SLOTS_SQL), position)
    info["wal_receiver"] = summarize_wal_receiver(fetch_one(conn, WAL_RECEIVER_SQL))
    info["pending_restart"] = [row["name"] for row in fetch_all(conn, PENDING_RESTART_SQL)]
    return info


def main():
    spec = postgres_common_argument_spec()
    spec["warn_inactive_slots"] = {"type": "list", "elements": "str", "default": []}
    module = new_module(spec)
    action = f"Reading replication state on {describe_target(module.params)}"
    with failing_on_db_error(
        module, connect(module), action, "Connect as a superuser or a member of pg_monitor."
    ) as conn:
        info = gather(conn)
    for warning in inactive_slot_warnings(info["slots"], module.params["warn_inactive_slots"]):
        module.warn(warning)
    module.exit_json(changed=False, **info)


if __name__ == "__main__":
    main()
