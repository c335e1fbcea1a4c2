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
  - The connections to the two database servers take the TLS of O(switchover_ssl_mode) and
    O(switchover_ca_cert). With V(verify-full), a certificate that is not signed by that CA, or does not name the
    address connected to, fails the module before anything is paused.
  - It then issues PAUSE (at most O(pause_wait) seconds) and, once paused, signals by renaming its
    connection on O(old_primary_host) to C(application_name=webstack-switchover-paused:<signal_name>).
  - It then asks O(target_host) every O(poll_interval_ms) milliseconds whether it accepts writes (out of
    recovery, read-write, able to assign a transaction ID). As soon as it does, it renames O(staged_config)
    over O(config) (an atomic rename), issues RELOAD and RESUME.
  - With O(follow_unit) instead of O(staged_config) (a cluster that Patroni runs, where the pgbouncer role's leader
    watcher points PgBouncer at the leader), it switches nothing itself. Before the barrier it notes the databases
    that point at O(old_primary_host) (C(SHOW DATABASES)) and refuses when there are none or the watcher does not
    run. Once the target accepts writes it sends the watcher C(SIGUSR1) (a look at the members now rather than at
    its next round; again every 100 ms while needed) and resumes as soon as C(SHOW DATABASES) shows every one of
    those databases on O(target_host). The watcher points there only once the target is the one member that
    answers Patroni's C(GET /primary), so the old leader no longer does.
  - RESUME always follows PAUSE, on error as well. When the target is not a primary O(pause_timeout) seconds
    after PAUSE, the module drops its signal, resumes on the old configuration (so clients keep using the old
    primary) and fails. The promoting side gives up earlier, so it never promotes after that.
  - Returns how long the pools were paused, measured from sending PAUSE until RESUME was answered.
author:
  - opsforge developers (@opsforge)
attributes:
  check_mode:
    support: full
    description: Connects to the admin console and both servers and checks the staged file, pausing nothing.
extends_documentation_fragment:
  - opsforge.webstack.attributes
  - opsforge.webstack.pgbouncer
  - opsforge.webstack.switchover
  - opsforge.webstack.switchover.pgbouncer_pause
  - opsforge.webstack.postgres.tls
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
  staged_config:
    description:
      - The configuration for the new topology, written beforehand next to O(config).
      - Exactly one of O(staged_config) and O(follow_unit) is needed.
    type: path
  follow_unit:
    description:
      - The systemd unit of the leader watcher that points PgBouncer at Patroni's leader
        (V(webstack-pgbouncer-follow.service)); see the description.
    type: str
  config:
    description: PgBouncer's live configuration file.
    type: path
    default: /etc/pgbouncer/pgbouncer.ini
  pause_timeout:
    description:
      - Seconds after PAUSE by which the target must be a primary; otherwise the module resumes on the old
        configuration and fails. Give M(opsforge.webstack.pg_switchover_promote) the same value.
      - Keep PgBouncer's C(query_wait_timeout) above it, so that no client waiting in the pause is dropped.
    type: float
    default: 15
notes:
  - Run it as a user that may replace O(config) (root), on the PgBouncer host, with the admin console's
    credentials in the login options.
  - O(ssl_mode) and O(ca_cert) apply to the admin console (PgBouncer on loopback, which speaks no TLS by
    default); set O(switchover_ssl_mode) and O(switchover_ca_cert) for the database servers, which otherwise
    take O(ssl_mode) and O(ca_cert) too.
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
    switchover_ssl_mode: verify-full
    switchover_ca_cert: /etc/pgbouncer/server-ca.crt
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
    answered), C(promotion) (until the target was a primary), C(switch) (rename and RELOAD; with O(follow_unit),
    until PgBouncer pointed at the target) and C(resume).
  returned: always
  type: dict
  sample: {"barrier": 840, "pause": 3, "promotion": 160, "switch": 6, "resume": 1}
followed:
  description: With O(follow_unit), the databases that pointed at O(old_primary_host) and had to follow.
  returned: when O(follow_unit) is set
  type: list
  elements: str
  sample: [shop]
msg:
  description: What the module did.
  returned: always
  type: str
  sample: switched to 10.0.0.12 after a pause of 182 ms
"""

import contextlib
import os
import time

from ansible_collections.opsforge.webstack.plugins.module_utils.pgbouncer import (
    AdminError,
    AdminTimeout,
    open_admin_console,
)
from ansible_collections.opsforge.webstack.plugins.module_utils.pgbouncer_pause import (
    BouncerPause,
    pause_argument_spec,
    signal_params_error,
)
from ansible_collections.opsforge.webstack.plugins.module_utils.postgres import (
    HAS_PSYCOPG2,
    accepts_writes,
    connection_kwargs,
    elapsed_ms,
    ensure_psycopg2,
    new_module,
    poll_until,
)
from ansible_collections.opsforge.webstack.plugins.module_utils.switchover import (
    READY_PREFIX,
    SIGNAL_PREFIX,
    bounds_error,
    ready_application_name,
    server_error_hint,
    server_params,
    server_tls_error,
    signal_application_name,
)

if HAS_PSYCOPG2:
    import psycopg2

# Every question to a server ends within a second, so a hanging server cannot stretch the pause.
STATEMENT_OPTIONS = "-c statement_timeout=1000"
# Seconds between two nudges of the leader watcher while PgBouncer waits for it (Patroni mode).
NUDGE_INTERVAL = 0.1


def validate_params(params):
    """Error message for unusable options, else None (pure but for the look at the CA file)."""
    error = signal_params_error(params)
    if error:
        return error
    if (params.get("old_primary_host"), params.get("old_primary_port")) == (
        params.get("target_host"),
        params.get("target_port"),
    ):
        return "old_primary_host and target_host are the same server."
    staged = params.get("staged_config")
    if staged and os.path.abspath(staged) == os.path.abspath(params["config"]):
        return "staged_config must be another file than config."
    if staged and os.path.dirname(os.path.abspath(staged)) != os.path.dirname(os.path.abspath(params["config"])):
        return "staged_config must be in the same directory as config, so that the switch is an atomic rename."
    return bounds_error(params["pause_timeout"], params["pause_wait"]) or server_tls_error(params)


def server_kwargs(params, host, port, application_name):
    """psycopg2.connect() keyword arguments for a database server: the switchover login and its TLS (pure)."""
    kwargs = connection_kwargs(server_params(params, host, port, connect_timeout=1))
    kwargs.update(application_name=application_name, options=STATEMENT_OPTIONS)
    return kwargs


class TargetPoller:
    """Asks the target whether it accepts writes yet, reconnecting when the connection breaks."""

    def __init__(self, params):
        self.kwargs = server_kwargs(params, params["target_host"], params["target_port"], "webstack-switchover-poll")
        self.conn = None
        self.last_error = None

    def connect(self):
        self.conn = psycopg2.connect(**self.kwargs)
        self.conn.autocommit = True

    def writable(self):
        try:
            if self.conn is None:
                self.connect()
            return accepts_writes(self.conn)
        except psycopg2.Error as exc:
            self.last_error = str(exc).strip()
            self.close()
            return False

    def close(self):
        if self.conn is not None:
            with contextlib.suppress(psycopg2.Error):
                self.conn.close()
            self.conn = None


class Switchover(BouncerPause):
    """One switchover on this PgBouncer host: its connections, the first failure, the timings and the result.

    The phases run in order (preflight, barrier, pause, signal, promotion, switch) and each one after the
    pause only when no failure came before it; finish() always closes and resumes what was paused.
    """

    PAUSE_TIMEOUT_OUTCOME = "; resumed on the old primary"

    def __init__(self, module):
        super().__init__(module, {"switched": False})
        self.poller = TargetPoller(self.params)
        self.followed = []
        self.systemctl = None

    def close_servers(self):
        super().close_servers()
        self.poller.close()

    def server_failure(self, action, host, error):
        """The message of a database server that failed before the pause, with a hint when TLS refused it."""
        error = str(error).strip()
        return f"Cannot {action} {host}: {error}.{server_error_hint(self.params, error, host)} Nothing was paused."

    def preflight(self):
        """Everything that can be checked is checked before PAUSE."""
        params, staged, config = self.params, self.params["staged_config"], self.params["config"]
        if staged and not os.path.isfile(staged):
            self.fail_before_pause(
                f"The staged configuration {staged} does not exist; nothing was paused.", **self.result
            )
        if staged and not os.access(os.path.dirname(config), os.W_OK):
            self.fail_before_pause(
                f"Cannot replace {config} (directory not writable); run as root. Nothing was paused."
            )
        try:
            self.poller.connect()
            self.poller.writable()
        except psycopg2.Error as exc:
            self.fail_before_pause(self.server_failure("reach the target", params["target_host"], exc))
        if self.poller.last_error:
            self.fail_before_pause(self.server_failure("ask the target", params["target_host"], self.poller.last_error))
        try:
            self.signal = psycopg2.connect(
                **server_kwargs(
                    params,
                    params["old_primary_host"],
                    params["old_primary_port"],
                    ready_application_name(params["signal_name"]),
                )
            )
            self.signal.autocommit = True
        except psycopg2.Error as exc:
            self.fail_before_pause(self.server_failure("reach the old primary", params["old_primary_host"], exc))
        self.console = open_admin_console(self.module)
        if params["follow_unit"]:
            self.follow_preflight()

    def database_hosts(self):
        """Each database's host, from SHOW DATABASES on the admin console."""
        return {row["name"]: row["host"] for row in self.console.query("SHOW DATABASES", 2)}

    def follow_preflight(self):
        """Patroni mode: the watcher runs, and these databases point at the old primary (they must follow)."""
        unit, old = self.params["follow_unit"], self.params["old_primary_host"]
        self.systemctl = self.module.get_bin_path("systemctl", required=True)
        rc, _out, _err = self.module.run_command([self.systemctl, "is-active", "--quiet", unit])
        if rc != 0:
            self.fail_before_pause(
                f"The leader watcher {unit} does not run here, so nothing would point PgBouncer at the new leader. "
                f"Start it (systemctl start {unit}, or site.yml). Nothing was paused."
            )
        try:
            hosts = self.database_hosts()
        except (AdminError, AdminTimeout) as exc:
            self.fail_before_pause(f"SHOW DATABASES failed on PgBouncer ({exc or 'no answer'}). Nothing was paused.")
        self.followed = sorted(name for name, host in hosts.items() if host == old)
        if not self.followed:
            self.fail_before_pause(
                f"No database of PgBouncer points at the old primary {old} (SHOW DATABASES: {hosts}): the leader "
                f"watcher ({unit}) and the plan disagree on the leader. Look at its journal; nothing was paused."
            )
        self.result["followed"] = self.followed

    def barrier(self):
        """Wait until every PgBouncer host of the switchover holds its connection to the old primary."""
        failure = self.barrier_failure(READY_PREFIX, SIGNAL_PREFIX, "old primary")
        if failure:
            self.fail_before_pause(
                f"Switchover on PgBouncer {self.console.describe()}: {failure}; nothing was paused.", **self.result
            )

    def signal_paused(self):
        try:
            cursor = self.signal.cursor()
            cursor.execute("SET application_name = %s", (signal_application_name(self.params["signal_name"]),))
            cursor.close()
        except psycopg2.Error as exc:
            self.failure = f"could not signal on the old primary {self.params['old_primary_host']}: {str(exc).strip()}"

    def wait_promotion(self):
        params = self.params
        deadline = self.start + params["pause_timeout"]
        promoted = poll_until(self.poller.writable, bool, deadline, params["poll_interval_ms"] / 1000.0)
        if not promoted:
            # Drop the signal first, then look one last time: a promotion seen now is still followed.
            self.signal.close()
            self.signal = None
            promoted = self.poller.writable()
        self.timings["promotion"] = elapsed_ms(self.start) - self.timings["pause"]
        if not promoted:
            detail = f" (last error: {self.poller.last_error})" if self.poller.last_error else ""
            where = (
                "resumed; clients reach whatever the leader watcher points at (Patroni's leader)"
                if params["follow_unit"]
                else "resumed on the old configuration, clients keep using the old primary"
            )
            self.failure = (
                f"{params['target_host']} was not a primary {params['pause_timeout']:g} s after PAUSE{detail}; {where}"
            )

    def switch(self):
        staged, config = self.params["staged_config"], self.params["config"]
        phase = time.monotonic()
        try:
            os.replace(staged, config)
        except OSError as exc:
            self.failure = f"could not move {staged} to {config} ({exc}); resumed on the old configuration"
        else:
            self.result.update(changed=True, switched=True)
            try:
                self.console.run("RELOAD", 5)
            except (AdminError, AdminTimeout) as exc:
                self.failure = f"{config} is in place but RELOAD failed ({exc or 'no answer'}); run RELOAD by hand"
        self.timings["switch"] = elapsed_ms(phase)

    def nudge(self):
        """Ask the leader watcher to look at the members now (SIGUSR1); a failure only costs its next round."""
        unit = self.params["follow_unit"]
        self.module.run_command([self.systemctl, "kill", "--kill-whom=main", "--signal=SIGUSR1", unit])

    def follow(self):
        """Patroni mode: wait until the leader watcher points every followed database at the target."""
        target = self.params["target_host"]
        phase = time.monotonic()
        nudged = {"at": None}

        def pointed():
            if nudged["at"] is None or time.monotonic() - nudged["at"] >= NUDGE_INTERVAL:
                self.nudge()
                nudged["at"] = time.monotonic()
            try:
                hosts = self.database_hosts()
            except (AdminError, AdminTimeout):
                return None
            return hosts if all(hosts.get(name) == target for name in self.followed) else None

        hosts = poll_until(
            pointed,
            bool,
            self.start + self.params["pause_timeout"],
            self.params["poll_interval_ms"] / 1000.0,
        )
        self.timings["switch"] = elapsed_ms(phase)
        if hosts:
            self.result.update(changed=True, switched=True)
            return
        self.failure = (
            f"{target} accepts writes, but the leader watcher ({self.params['follow_unit']}) did not point "
            f"{', '.join(self.followed)} at it within {self.params['pause_timeout']:g} s of PAUSE; resumed, and "
            "clients reach whatever the watcher points at (SHOW DATABASES; its journal says why)"
        )

    def critical_section(self):
        """PAUSE, signal, wait for the promotion, switch (or follow); RESUME whatever happened."""
        self.start = time.monotonic()
        last = self.follow if self.params["follow_unit"] else self.switch
        try:
            for phase in (self.pause, self.signal_paused, self.wait_promotion, last):
                phase()
                if self.failure is not None:
                    break
        finally:
            self.finish()


def main():
    argument_spec = pause_argument_spec()
    argument_spec.update(
        old_primary_host={"type": "str", "required": True},
        target_host={"type": "str", "required": True},
        old_primary_port={"type": "int", "default": 5432},
        target_port={"type": "int", "default": 5432},
        staged_config={"type": "path"},
        follow_unit={"type": "str"},
        config={"type": "path", "default": "/etc/pgbouncer/pgbouncer.ini"},
        pause_timeout={"type": "float", "default": 15},
    )
    module = new_module(
        argument_spec,
        validate_params,
        mutually_exclusive=[("staged_config", "follow_unit")],
        required_one_of=[("staged_config", "follow_unit")],
    )
    params = module.params
    ensure_psycopg2(module)

    switchover = Switchover(module)
    switchover.preflight()
    target = switchover.console.describe()
    if module.check_mode:
        switchover.close_servers()
        switchover.console.close()
        last = "follow the leader watcher" if params["follow_unit"] else "switch"
        switchover.result.update(
            changed=True, msg=f"would pause {target}, signal, wait for {params['target_host']} and {last}"
        )
        module.exit_json(**switchover.result)
    if params["peers"]:
        switchover.barrier()
    switchover.critical_section()

    result = switchover.result
    if switchover.failure:
        module.fail_json(msg=f"Switchover on PgBouncer {target}: {switchover.failure}.", **result)
    result["msg"] = f"switched to {params['target_host']} after a pause of {result['pause_ms']} ms"
    module.exit_json(**result)


if __name__ == "__main__":
    main()
