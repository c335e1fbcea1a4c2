#!/usr/bin/python
# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: pgbouncer_switchover
short_description: Pause PgBouncer, wait for the new primary, switch the configuration and resume
version_added: 0.1.0
description:
  - The PgBouncer half of the critical section of a planned switchover; the other half is
    M(opsforge.webstack.pg_switchover_promote) on the target standby. Both run at the same time as async jobs.
  - Connects to the admin console, to O(target_host) and to O(old_primary_host) first (with
    C(application_name=webstack-switchover-ready:<signal_name>)). With O(peers), it then waits at most
    O(barrier_timeout) seconds until every peer holds such a connection too, so that all PgBouncer hosts
    pause at the same moment however far apart Ansible started them.
  - It then issues PAUSE (at most O(pause_wait) seconds) and, once paused, signals by renaming its
    connection on O(old_primary_host) to C(application_name=webstack-switchover-paused:<signal_name>).
  - It then asks O(target_host) every O(poll_interval_ms) milliseconds whether it is still in recovery. As soon
    as it is a primary, it renames O(staged_config) over O(config) (an atomic rename), issues RELOAD and RESUME.
  - RESUME always follows PAUSE, on error as well. When the target is not a primary O(pause_timeout) seconds
    after PAUSE, the module drops its signal, resumes on the old configuration (so clients keep using the old
    primary) and fails. The promoting side gives up earlier, so it never promotes after that.
  - Returns how long the pools were paused, measured from sending PAUSE until RESUME was answered.
author:
  - opsforge developers (@opsforge)
extends_documentation_fragment:
  - opsforge.webstack.pgbouncer
attributes:
  check_mode:
    support: full
    description: Connects to the admin console and both servers and checks the staged file, pausing nothing.
  diff_mode:
    support: none
    description: Nothing is reported as a diff.
options:
  old_primary_host:
    description: Address of the current (old) primary, where the module signals that it paused.
    type: str
    required: true
  target_host:
    description: Address of the standby being promoted.
    type: str
    required: true
  old_primary_port:
    description: PostgreSQL port of the old primary.
    type: int
    default: 5432
  target_port:
    description: PostgreSQL port of the target.
    type: int
    default: 5432
  switchover_user:
    description: Role to connect to both servers as (needs only CONNECT).
    type: str
    required: true
  switchover_password:
    description: Password of O(switchover_user).
    type: str
    required: true
  switchover_db:
    description: Database to connect to on both servers.
    type: str
    default: postgres
  signal_name:
    description: This host's name in the signal (usually its inventory hostname); letters, digits, C(.-_).
    type: str
    required: true
  staged_config:
    description: The configuration for the new topology, written beforehand next to O(config).
    type: path
    required: true
  config:
    description: PgBouncer's live configuration file.
    type: path
    default: /etc/pgbouncer/pgbouncer.ini
  pause_wait:
    description: Seconds PAUSE may take (clients finishing their transactions) before the module resumes and fails.
    type: float
    default: 3
  pause_timeout:
    description:
      - Seconds after PAUSE by which the target must be a primary; otherwise the module resumes on the old
        configuration and fails. Give M(opsforge.webstack.pg_switchover_promote) the same value.
      - Keep PgBouncer's C(query_wait_timeout) above it, so that no client waiting in the pause is dropped.
    type: float
    default: 15
  peers:
    description:
      - Signal names of every PgBouncer host in this switchover, this one included (usually the group's
        inventory hostnames). PAUSE waits until all of them are connected and ready. An empty list sets no barrier.
    type: list
    elements: str
    default: []
  barrier_timeout:
    description: Seconds to wait for O(peers); when one is missing after that, the module fails without pausing.
    type: float
    default: 10
  poll_interval_ms:
    description: Milliseconds between two questions to the target (or to the old primary at the barrier).
    type: int
    default: 20
notes:
  - Run it as a user that may replace O(config) (root), on the PgBouncer host, with the admin console's
    credentials in the login options.
seealso:
  - module: opsforge.webstack.pg_switchover_promote
  - module: opsforge.webstack.pgbouncer_admin
"""

EXAMPLES = r"""
- name: Pause, wait for db2 to be promoted, switch and resume (launched after the promoting side)
  opsforge.webstack.pgbouncer_switchover:
    login_host: 127.0.0.1
    login_user: pgbouncer_admin
    login_password: "{{ pgbouncer_admin_password }}"
    old_primary_host: 10.0.0.11
    target_host: 10.0.0.12
    switchover_user: switchover
    switchover_password: "{{ postgresql_switchover_password }}"
    signal_name: "{{ inventory_hostname }}"
    peers: "{{ groups['pgbouncer'] }}"
    staged_config: /etc/pgbouncer/pgbouncer.ini.next
  become: true
  async: 60
  poll: 0
  register: __bouncer_job
"""

RETURN = r"""
switched:
  description: Whether the new configuration is in place.
  returned: always
  type: bool
  sample: true
pause_ms:
  description: Milliseconds from sending PAUSE until RESUME was answered (the longest a client could wait).
  returned: when PAUSE was sent
  type: int
  sample: 182
timings:
  description: Milliseconds for C(barrier) (until every peer was ready, before PAUSE), C(pause) (PAUSE
    answered), C(promotion) (until the target was a primary), C(switch) (rename and RELOAD) and C(resume).
  returned: always
  type: dict
  sample: {"barrier": 840, "pause": 3, "promotion": 160, "switch": 6, "resume": 1}
msg:
  description: What the module did.
  returned: always
  type: str
  sample: switched to 10.0.0.12 after a pause of 182 ms
"""

import contextlib
import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opsforge.webstack.plugins.module_utils.pgbouncer import (
    AdminConsole,
    AdminError,
    AdminTimeout,
    open_admin_console,
    pgbouncer_common_argument_spec,
)
from ansible_collections.opsforge.webstack.plugins.module_utils.postgres import (
    HAS_PSYCOPG2,
    connection_kwargs,
    elapsed_ms,
    ensure_psycopg2,
)
from ansible_collections.opsforge.webstack.plugins.module_utils.switchover import (
    PEERS_SQL,
    barrier_missing,
    bounds_error,
    peers_query_args,
    ready_application_name,
    signal_application_name,
    signal_name_error,
    switchover_credentials_argument_spec,
)

if HAS_PSYCOPG2:
    import psycopg2

# Every question to a server ends within a second, so a hanging server cannot stretch the pause.
STATEMENT_OPTIONS = "-c statement_timeout=1000"


def validate_params(params):
    """Error message for unusable options, else None (pure)."""
    error = signal_name_error(params.get("signal_name"))
    if error:
        return error + "."
    peers = params.get("peers") or []
    for peer in peers:
        error = signal_name_error(peer)
        if error:
            return f"peers: {error}."
    if peers and params["signal_name"] not in peers:
        return f"peers must include this host's signal_name {params['signal_name']!r} (got {', '.join(peers)})."
    if params.get("barrier_timeout", 10) <= 0:
        return f"barrier_timeout must be positive (got {params['barrier_timeout']})."
    if (params.get("old_primary_host"), params.get("old_primary_port")) == (
        params.get("target_host"),
        params.get("target_port"),
    ):
        return "old_primary_host and target_host are the same server."
    if os.path.abspath(params["staged_config"]) == os.path.abspath(params["config"]):
        return "staged_config must be another file than config."
    if os.path.dirname(os.path.abspath(params["staged_config"])) != os.path.dirname(os.path.abspath(params["config"])):
        return "staged_config must be in the same directory as config, so that the switch is an atomic rename."
    if not 1 <= params.get("poll_interval_ms", 20) <= 1000:
        return "poll_interval_ms must be between 1 and 1000."
    return bounds_error(params["pause_timeout"], params["pause_wait"])


def server_kwargs(params, host, port, application_name):
    kwargs = connection_kwargs(
        {
            "login_host": host,
            "login_port": port,
            "login_user": params["switchover_user"],
            "login_password": params["switchover_password"],
            "login_db": params["switchover_db"],
            "connect_timeout": 1,
        }
    )
    kwargs.update(application_name=application_name, options=STATEMENT_OPTIONS)
    return kwargs


def peers_ready(conn):
    """Signal names at the barrier or past it, as seen on the old primary."""
    cursor = conn.cursor()
    try:
        cursor.execute(PEERS_SQL, peers_query_args())
        return {row[0] for row in cursor.fetchall()}
    finally:
        cursor.close()


def wait_for_peers(conn, params):
    """Wait at the barrier; the peers still missing when it gave up (empty when all came)."""
    deadline = time.monotonic() + params["barrier_timeout"]
    missing = barrier_missing(params["peers"], peers_ready(conn))
    while missing and time.monotonic() < deadline:
        time.sleep(params["poll_interval_ms"] / 1000.0)
        missing = barrier_missing(params["peers"], peers_ready(conn))
    return missing


def is_primary(conn):
    cursor = conn.cursor()
    try:
        cursor.execute("SELECT pg_is_in_recovery()")
        return not cursor.fetchone()[0]
    finally:
        cursor.close()


class TargetPoller:
    """Asks the target whether it left recovery, reconnecting when the connection breaks."""

    def __init__(self, params):
        self.kwargs = server_kwargs(params, params["target_host"], params["target_port"], "webstack-switchover-poll")
        self.conn = None
        self.last_error = None

    def connect(self):
        self.conn = psycopg2.connect(**self.kwargs)
        self.conn.autocommit = True

    def primary(self):
        try:
            if self.conn is None:
                self.connect()
            return is_primary(self.conn)
        except psycopg2.Error as exc:
            self.last_error = str(exc).strip()
            self.close()
            return False

    def close(self):
        if self.conn is not None:
            with contextlib.suppress(psycopg2.Error):
                self.conn.close()
            self.conn = None


def main():
    argument_spec = pgbouncer_common_argument_spec()
    argument_spec.update(switchover_credentials_argument_spec())
    argument_spec.update(
        old_primary_host={"type": "str", "required": True},
        target_host={"type": "str", "required": True},
        old_primary_port={"type": "int", "default": 5432},
        target_port={"type": "int", "default": 5432},
        signal_name={"type": "str", "required": True},
        staged_config={"type": "path", "required": True},
        config={"type": "path", "default": "/etc/pgbouncer/pgbouncer.ini"},
        pause_wait={"type": "float", "default": 3},
        pause_timeout={"type": "float", "default": 15},
        peers={"type": "list", "elements": "str", "default": []},
        barrier_timeout={"type": "float", "default": 10},
        poll_interval_ms={"type": "int", "default": 20},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    error = validate_params(params)
    if error:
        module.fail_json(msg=error)
    ensure_psycopg2(module)
    staged, config = params["staged_config"], params["config"]
    timings = {}
    result = {"changed": False, "switched": False, "timings": timings}

    # Everything that can be checked is checked before PAUSE.
    if not os.path.isfile(staged):
        module.fail_json(msg=f"The staged configuration {staged} does not exist; nothing was paused.", **result)
    if not os.access(os.path.dirname(config), os.W_OK):
        module.fail_json(msg=f"Cannot replace {config} (directory not writable); run as root. Nothing was paused.")
    poller = TargetPoller(params)
    try:
        poller.connect()
        poller.primary()
    except psycopg2.Error as exc:
        module.fail_json(
            msg=f"Cannot reach the target {params['target_host']}: {str(exc).strip()}. Nothing was paused."
        )
    if poller.last_error:
        module.fail_json(msg=f"Cannot ask the target {params['target_host']}: {poller.last_error}. Nothing was paused.")
    try:
        signal = psycopg2.connect(
            **server_kwargs(
                params,
                params["old_primary_host"],
                params["old_primary_port"],
                ready_application_name(params["signal_name"]),
            )
        )
        signal.autocommit = True
    except psycopg2.Error as exc:
        poller.close()
        module.fail_json(
            msg=f"Cannot reach the old primary {params['old_primary_host']}: {str(exc).strip()}. Nothing was paused."
        )
    console = open_admin_console(module)
    target = console.describe()
    if module.check_mode:
        signal.close()
        poller.close()
        console.close()
        result.update(changed=True, msg=f"would pause {target}, signal, wait for {params['target_host']} and switch")
        module.exit_json(**result)

    interval = params["poll_interval_ms"] / 1000.0
    paused = False
    failure = None
    if params["peers"]:
        phase = time.monotonic()
        try:
            missing = wait_for_peers(signal, params)
        except psycopg2.Error as exc:
            missing, failure = None, f"lost the old primary at the barrier: {str(exc).strip()}"
        timings["barrier"] = elapsed_ms(phase)
        if missing:
            failure = (
                f"{', '.join(missing)} did not reach the barrier within {params['barrier_timeout']:g} s"
                " (not started, or cannot reach the old primary)"
            )
        if failure:
            signal.close()
            poller.close()
            console.close()
            module.fail_json(msg=f"Switchover on PgBouncer {target}: {failure}; nothing was paused.", **result)
    start = time.monotonic()
    try:
        try:
            console.run("PAUSE", params["pause_wait"])
            paused = True
        except AdminTimeout:
            paused = True  # PgBouncer keeps trying to pause; the RESUME below undoes it
            failure = (
                f"PAUSE did not finish within {params['pause_wait']:g} s (clients hold transactions open); "
                "resumed on the old primary"
            )
        except AdminError as exc:
            failure = f"PAUSE failed: {exc}"
        timings["pause"] = elapsed_ms(start)

        if failure is None:
            try:
                cursor = signal.cursor()
                cursor.execute("SET application_name = %s", (signal_application_name(params["signal_name"]),))
                cursor.close()
            except psycopg2.Error as exc:
                failure = f"could not signal on the old primary {params['old_primary_host']}: {str(exc).strip()}"

        if failure is None:
            deadline = start + params["pause_timeout"]
            promoted = poller.primary()
            while not promoted and time.monotonic() < deadline:
                time.sleep(interval)
                promoted = poller.primary()
            if not promoted:
                # Drop the signal first, then look one last time: a promotion seen now is still followed.
                signal.close()
                signal = None
                promoted = poller.primary()
            timings["promotion"] = elapsed_ms(start) - timings["pause"]
            if not promoted:
                detail = f" (last error: {poller.last_error})" if poller.last_error else ""
                failure = (
                    f"{params['target_host']} was not a primary {params['pause_timeout']:g} s after PAUSE{detail}; "
                    "resumed on the old configuration, clients keep using the old primary"
                )

        if failure is None:
            phase = time.monotonic()
            try:
                os.replace(staged, config)
            except OSError as exc:
                failure = f"could not move {staged} to {config} ({exc}); resumed on the old configuration"
            else:
                result.update(changed=True, switched=True)
                try:
                    console.run("RELOAD", 5)
                except (AdminError, AdminTimeout) as exc:
                    failure = f"{config} is in place but RELOAD failed ({exc or 'no answer'}); run RELOAD by hand"
            timings["switch"] = elapsed_ms(phase)
    finally:
        if signal is not None:
            with contextlib.suppress(psycopg2.Error):
                signal.close()
        poller.close()
        if paused:
            phase = time.monotonic()
            resume_error = resume(console, params)
            timings["resume"] = elapsed_ms(phase)
            result["pause_ms"] = elapsed_ms(start)
            if resume_error:
                failure = (failure + "; " if failure else "") + f"RESUME failed ({resume_error}): run RESUME by hand"
        console.close()

    if failure:
        module.fail_json(msg=f"Switchover on PgBouncer {target}: {failure}.", **result)
    result["msg"] = f"switched to {params['target_host']} after a pause of {result['pause_ms']} ms"
    module.exit_json(**result)


def resume(console, params):
    """RESUME on the open console, else on a fresh one; an error text or None."""
    last = None
    for attempt in range(3):
        fresh = None
        try:
            if attempt:
                fresh = AdminConsole(params).open()
            (fresh or console).run("RESUME", 5)
            return None
        except (AdminError, AdminTimeout) as exc:
            last = str(exc) or "no answer"
            if "not paused" in last.lower():
                return None
        finally:
            if fresh is not None:
                fresh.close()
    return last


if __name__ == "__main__":
    main()
