# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What a local data directory, its server and a primary say about themselves, as pg_standby decides on it.

inspect_local() reads the directory, inspect_running() asks the running server, inspect_stopped() reads
pg_controldata and postgresql.auto.conf, probe_primary() asks the primary over a replication connection.
The results are the plain dicts decide_action() in standby.py takes.
"""

import os

from ansible_collections.opsforge.webstack.plugins.module_utils.auto_conf import parse_auto_conf, read_auto_conf
from ansible_collections.opsforge.webstack.plugins.module_utils.lsn import format_lsn, parse_lsn
from ansible_collections.opsforge.webstack.plugins.module_utils.postgres import (
    HAS_PSYCOPG2,
    connection_kwargs,
    current_timeline,
    describe_target,
    fetch_one,
    login_params,
    parse_controldata,
    strip_conninfo_password,
    try_connect,
)

if HAS_PSYCOPG2:
    import psycopg2
    import psycopg2.extras

IGNORED_ENTRIES = ("lost+found",)


def postmaster_pid(data_dir):
    """The PID of the postmaster alive for this data directory (postmaster.pid + live process), else None."""
    pid_file = os.path.join(data_dir, "postmaster.pid")
    try:
        with open(pid_file) as handle:
            first = handle.readline().strip()
    except OSError:
        return None
    if not first.lstrip("-").isdigit():
        return None
    pid = abs(int(first))
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def service_in_cgroup(cgroup_text):
    """The systemd service named in the text of /proc/PID/cgroup (postgresql@15-main.service), else None."""
    for line in cgroup_text.splitlines():
        for part in reversed(line.rsplit(":", 1)[-1].split("/")):
            if part.endswith(".service"):
                return part
    return None


def postmaster_service(pid):
    """The systemd service that runs the process: Debian's postgresql@ unit, Patroni's, or None (not known)."""
    try:
        with open(f"/proc/{pid}/cgroup") as handle:
            return service_in_cgroup(handle.read())
    except OSError:
        return None


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
        "service": None,
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
        pid = postmaster_pid(data_dir)
        local["running"] = pid is not None
        local["service"] = postmaster_service(pid) if pid is not None else None
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
        in_recovery = row["in_recovery"]
        if in_recovery:
            lsn_sql = "SELECT COALESCE(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::text AS lsn"
        else:
            lsn_sql = "SELECT pg_current_wal_lsn()::text AS lsn"
        local.update(
            lsn=fetch_one(conn, lsn_sql)["lsn"],
            timeline=current_timeline(conn, in_recovery),
            wal_receiver=read_wal_receiver(conn) if in_recovery else None,
        )
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
    try:
        settings = parse_auto_conf(read_auto_conf(data_dir))
    except OSError:  # unreadable: the settings count as unknown, and decide_action sees them differ
        settings = {}
    local["primary_conninfo"] = settings.get("primary_conninfo", "")
    local["primary_slot_name"] = settings.get("primary_slot_name", "")


def probe_primary(params):
    """IDENTIFY_SYSTEM and TIMELINE_HISTORY over a replication connection; returns (info, error)."""
    replication = login_params(
        params,
        params["primary_host"],
        params["primary_port"],
        params["replication_user"],
        params.get("replication_password"),
    )
    kwargs = connection_kwargs(replication)
    del kwargs["dbname"]  # a physical replication connection is to no database
    kwargs["connection_factory"] = psycopg2.extras.PhysicalReplicationConnection
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


def ask_in_recovery(params, data_dir):
    """pg_is_in_recovery() of the running server; returns (bool, None) or (None, error text).

    Run as root, the connection is made with the effective uid and gid of the data directory's owner, so that
    peer authentication over the unix socket admits it as that owner (as runuser -u postgres psql would).
    """
    owner = None
    if os.geteuid() == 0:
        stat = os.stat(data_dir)
        owner = (stat.st_uid, stat.st_gid)
    try:
        if owner:
            os.setegid(owner[1])
            os.seteuid(owner[0])
        conn, err = try_connect(params)
    finally:
        if owner:
            os.seteuid(0)
            os.setegid(0)
    if conn is None:
        return None, err
    try:
        return bool(fetch_one(conn, "SELECT pg_is_in_recovery() AS in_recovery")["in_recovery"]), None
    except psycopg2.Error as exc:
        return None, str(exc).strip()
    finally:
        conn.close()
