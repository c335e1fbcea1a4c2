# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""How pg_standby decides and what it does: the planner and the steps of a plan.

decide_action() picks one action from what was found on the local node and the primary; build_plan()
turns it into steps. Each step says what it does (for check mode and errors, secrets masked by the caller)
and does it, so a plan is described and run from the same objects. Deciding and planning need no host.
"""

import grp
import os
import pwd
import shlex
import shutil
import tempfile

from ansible_collections.opsforge.webstack.plugins.module_utils.auto_conf import (
    auto_conf_path,
    describe_settings,
    read_auto_conf,
    update_auto_conf,
)
from ansible_collections.opsforge.webstack.plugins.module_utils.postgres import (
    build_conninfo,
    fetch_one,
    mask_secrets,
    parse_conninfo,
    timeline_diverged,
    try_connect,
)

NONE = "none"
CONFIGURE = "configure"
START = "start"
CLONE = "clone"
REWIND = "rewind"


class Refused(Exception):
    """The module will not act on this data directory; the message says why and what to do."""


class StepFailed(Exception):
    """A step of the plan failed; the message names the step and the cause, secrets masked."""


# --------------------------------------------------------------------------
# deciding (pure)
# --------------------------------------------------------------------------


def default_commands(pg_version, cluster_name):
    """Debian's pg_ctlcluster start and stop lines for a cluster (pure)."""
    start = ["pg_ctlcluster", str(pg_version), cluster_name, "start"]
    stop = ["pg_ctlcluster", str(pg_version), cluster_name, "stop", "-m", "fast"]
    return start, stop


def tls_pairs(params):
    """The TLS keys of every connection to the primary, from ssl_mode and ca_cert (pure).

    The login options' TLS settings apply to the primary too (they do not matter on the local unix socket):
    sslmode is always written, so that a change from verify-full back to prefer reaches primary_conninfo.
    """
    return [("sslmode", params.get("ssl_mode") or "prefer"), ("sslrootcert", params.get("ca_cert"))]


def desired_conninfo_pairs(params):
    """Ordered (key, value) pairs of the primary_conninfo to write (pure)."""
    return [
        ("user", params["replication_user"]),
        ("password", params.get("replication_password")),
        ("host", params["primary_host"]),
        ("port", str(params["primary_port"])),
        ("application_name", params.get("application_name")),
        *tls_pairs(params),
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


# --------------------------------------------------------------------------
# commands (pure)
# --------------------------------------------------------------------------


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
            *tls_pairs(params),
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


def password_env(action, params):
    """The environment of the commands run as the cluster's owner: the password of the source (pure).

    pg_basebackup and pg_rewind read PGPASSWORD, so the password is never on a command line.
    """
    password = params.get("replication_password") if action == CLONE else None
    if action == REWIND:
        password = rewind_credentials(params)[1]
    return {"PGPASSWORD": password} if password else {}


def rewind_command(bin_dir, data_dir, params, config_file=None):
    """pg_rewind argv; the password is not in it (pure)."""
    user, _password = rewind_credentials(params)
    source = build_conninfo(
        [
            ("host", params["primary_host"]),
            ("port", str(params["primary_port"])),
            ("user", user),
            ("dbname", params.get("rewind_dbname") or "postgres"),
            *tls_pairs(params),
        ]
    )
    cmd = [os.path.join(bin_dir, "pg_rewind"), "-D", data_dir, "--source-server=" + source, "--progress"]
    if config_file:
        cmd.append("--config-file=" + config_file)
    if params.get("restore_target_wal"):
        # WAL the former primary has already archived and recycled since the last common checkpoint comes from
        # the archive, through the restore_command of its own configuration.
        cmd.append("--restore-target-wal")
    return cmd


# --------------------------------------------------------------------------
# the steps of a plan
# --------------------------------------------------------------------------


class StepContext:
    """What the steps need to act: the module (to run commands), its params, the secrets to mask, and the
    environment (PGPASSWORD) for the commands run as the cluster's OS user."""

    def __init__(self, module, secrets, env):
        self.module = module
        self.params = module.params
        self.secrets = secrets
        self.env = env


class Step:
    """One thing a plan does. kind names it in tests; describe() and execute() must agree."""

    kind = ""

    def describe(self, data_dir):
        raise NotImplementedError

    def execute(self, ctx):
        raise NotImplementedError


class Run(Step):
    """Run a command; as_os_user: it runs as the cluster's owner and gets the password in its environment."""

    def __init__(self, argv, as_os_user=False):
        self.argv = list(argv)
        self.as_os_user = as_os_user
        self.kind = "run_as" if as_os_user else "run"

    def describe(self, data_dir):
        return " ".join(shlex.quote(part) for part in self.argv)

    def execute(self, ctx):
        env = ctx.env if self.as_os_user else None
        rc, out, err = ctx.module.run_command(self.argv, environ_update=env, cwd="/")
        if rc != 0:
            shown = mask_secrets(self.describe(ctx.params["data_directory"]), ctx.secrets)
            detail = mask_secrets((err.strip() or out.strip())[-2000:], ctx.secrets)
            raise StepFailed(f"'{shown}' failed on this host (rc={rc}): {detail}")


class PathStep(Step):
    """A step on one file or directory; template says what it does to {path}."""

    template = "{path}"

    def __init__(self, path):
        self.path = path

    def describe(self, data_dir):
        return self.template.format(path=self.path)


class ClearDirectory(PathStep):
    kind = "clear"
    template = "remove everything inside {path}"

    def execute(self, ctx):
        for name in os.listdir(self.path):
            full = os.path.join(self.path, name)
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full)
            else:
                os.unlink(full)


class MakeDataDirectory(PathStep):
    kind = "mkdir"
    template = "create {path} (mode 0700)"

    def execute(self, ctx):
        os_user = ctx.params["os_user"]
        os.makedirs(self.path, mode=0o700)
        os.chmod(self.path, 0o700)
        if os.geteuid() == 0:
            try:
                user = pwd.getpwnam(os_user)
            except KeyError:
                raise StepFailed(
                    f"os_user {os_user} does not exist on this host; cannot create {self.path} for it."
                ) from None
            os.chown(self.path, user.pw_uid, grp.getgrgid(user.pw_gid).gr_gid)


class WriteSettings(Step):
    """Set the standby settings in postgresql.auto.conf, keeping every other line."""

    kind = "write_settings"

    def __init__(self, settings):
        self.settings = settings

    def describe(self, data_dir):
        return describe_settings(data_dir, self.settings)

    def execute(self, ctx):
        data_dir = ctx.params["data_directory"]
        write_file_atomic(auto_conf_path(data_dir), update_auto_conf(read_auto_conf(data_dir), self.settings), data_dir)


class CreateSignal(PathStep):
    kind = "signal"
    template = "create {path}"

    def execute(self, ctx):
        write_file_atomic(self.path, "", ctx.params["data_directory"])


class Reload(Step):
    kind = "reload"

    def describe(self, data_dir):
        return "SELECT pg_reload_conf()"

    def execute(self, ctx):
        conn, err = try_connect(ctx.params)
        if conn is None:
            raise StepFailed(f"Could not connect to reload the configuration: {err}")
        try:
            fetch_one(conn, "SELECT pg_reload_conf() AS ok")
        finally:
            conn.close()


def write_file_atomic(path, content, owner_dir, mode=0o600):
    """Write through a temporary file and a rename; as root the file goes to owner_dir's owner."""
    info = os.stat(owner_dir)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".pg_standby.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
        os.chmod(tmp, mode)
        if os.geteuid() == 0:
            os.chown(tmp, info.st_uid, info.st_gid)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def build_plan(action, local, params, bin_dir, start_cmd, stop_cmd, euid, config_file=None):
    """The steps for an action (pure: nothing runs until a step is executed)."""
    data_dir = params["data_directory"]
    os_user = params.get("os_user")
    plan = []
    if action == NONE:
        return plan
    if action in (CLONE, REWIND) and local["running"]:
        plan.append(Run(stop_cmd))
    if action == CLONE:
        if not local["exists"]:
            plan.append(MakeDataDirectory(data_dir))
        elif not local["empty"]:
            plan.append(ClearDirectory(data_dir))
        plan.append(Run(as_user(basebackup_command(bin_dir, data_dir, params), os_user, euid), as_os_user=True))
    if action == REWIND:
        argv = as_user(rewind_command(bin_dir, data_dir, params, config_file), os_user, euid)
        plan.append(Run(argv, as_os_user=True))
    if action in (CLONE, REWIND, CONFIGURE):
        plan.append(WriteSettings(standby_settings(params)))
        plan.append(CreateSignal(os.path.join(data_dir, "standby.signal")))
    if action == CONFIGURE and local["running"]:
        plan.append(Reload())
    else:
        plan.append(Run(start_cmd))
    return plan


def describe_plan(plan, secrets, data_dir):
    """Readable lines for the plan, with every secret masked (pure)."""
    return [mask_secrets(step.describe(data_dir), secrets) for step in plan]


def execute_plan(plan, ctx):
    """Run the steps in order; the first failure raises StepFailed."""
    for step in plan:
        step.execute(ctx)
