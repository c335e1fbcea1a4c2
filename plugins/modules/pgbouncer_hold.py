#!/usr/bin/python
# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: pgbouncer_hold
short_description: Pause PgBouncer until the primary releases it, for a snapshot that no client write crosses
version_added: 0.1.0
description:
  - The PgBouncer half of a short hold of every PgBouncer host while the primary acts; the other half is
    M(opsforge.webstack.pg_table_checksums) with O(opsforge.webstack.pg_table_checksums#module:hold_bouncers) on the
    primary, which fixes the restore drill's snapshot and restore point inside the hold. Both run at the same time
    as async jobs, so that no Ansible task stands between the pause and the resume.
  - Connects to the admin console and to O(primary_host) (with C(application_name=webstack-hold-ready:<signal_name>)).
    With O(peers), it then waits at most O(barrier_timeout) seconds until every peer holds such a connection too,
    so that all PgBouncer hosts pause at the same moment however far apart Ansible started them.
  - It then issues PAUSE (at most O(pause_wait) seconds), renames its connection on O(primary_host) to
    C(application_name=webstack-hold-paused:<signal_name>) and waits on it (C(pg_sleep())). The primary's side cancels
    that wait (C(pg_cancel_backend())) once it is done, and the module issues RESUME at once.
  - RESUME always follows PAUSE. When no release comes within O(hold_timeout) seconds of the signal, or the connection
    to the primary breaks otherwise, the module resumes and fails; clients waited at most O(pause_wait) +
    O(hold_timeout). A primary that stops answering altogether (a frozen host, a network that drops packets) cannot
    hold the pause longer; a watchdog resumes PgBouncer one second past that bound and ends the wait.
  - Returns how long the pools were paused, measured from sending PAUSE until RESUME was answered.
author:
  - opsforge developers (@opsforge)
attributes:
  check_mode:
    support: full
    description: Connects to the admin console and to the primary, pausing nothing.
extends_documentation_fragment:
  - opsforge.webstack.attributes
  - opsforge.webstack.pgbouncer
  - opsforge.webstack.switchover
  - opsforge.webstack.switchover.pgbouncer_pause
  - opsforge.webstack.postgres.tls
options:
  primary_host:
    description: Address of the primary, where the module signals that it paused and waits for the release.
    type: str
    required: true
  primary_port:
    description: PostgreSQL port of the primary.
    type: int
    default: 5432
  hold_timeout:
    description:
      - Seconds from the signal (PAUSE answered) by which the primary must release the hold; otherwise the module
        resumes and fails. Give M(opsforge.webstack.pg_table_checksums) the same value.
      - Keep PgBouncer's C(query_wait_timeout) above it, so that no client waiting in the pause is dropped.
    type: float
    default: 10
notes:
  - Run it on the PgBouncer host, with the admin console's credentials in the login options. O(switchover_user)
    needs no privilege on the primary beyond CONNECT; the primary's side cancels its wait as a superuser.
  - O(ssl_mode) and O(ca_cert) apply to the admin console (PgBouncer on loopback); set O(switchover_ssl_mode) and
    O(switchover_ca_cert) for the primary.
seealso:
  - module: opsforge.webstack.pg_table_checksums
  - module: opsforge.webstack.pgbouncer_switchover
  - module: opsforge.webstack.pgbouncer_admin
"""

EXAMPLES = r"""
- name: Fix the snapshot on the primary once every PgBouncer host paused (launched first)
  opsforge.webstack.pg_table_checksums:
    restore_point: drill-20261206T190000Z
    hold_bouncers: "{{ groups['pgbouncer'] }}"
  become: true
  become_user: postgres
  async: 3600
  poll: 0
  register: __snapshot_job
  when: inventory_hostname == 'db1'

- name: Hold every PgBouncer host until the primary released it
  opsforge.webstack.pgbouncer_hold:
    login_host: 127.0.0.1
    login_user: pgbouncer_admin
    login_password: "{{ pgbouncer_admin_password }}"
    primary_host: 10.0.0.11
    switchover_user: switchover
    switchover_password: "{{ postgresql_switchover_password }}"
    switchover_ssl_mode: verify-full
    switchover_ca_cert: /etc/pgbouncer/server-ca.crt
    signal_name: "{{ inventory_hostname }}"
    peers: "{{ groups['pgbouncer'] }}"
  async: 60
  poll: 0
  register: __hold_job
  when: inventory_hostname in groups['pgbouncer']
"""

RETURN = r"""
released:
  description: Whether the primary released the hold (else the module resumed by itself, and failed).
  returned: always
  type: bool
  sample: true
pause_ms:
  description: Milliseconds from sending PAUSE until RESUME was answered (the longest a client could wait).
  returned: when PAUSE was sent
  type: int
  sample: 95
timings:
  description: Milliseconds for C(barrier) (until every peer was ready, before PAUSE), C(pause) (PAUSE answered),
    C(hold) (from PAUSE answered until the release) and C(resume).
  returned: always
  type: dict
  sample: {"barrier": 640, "pause": 4, "hold": 71, "resume": 1}
msg:
  description: What the module did.
  returned: always
  type: str
  sample: held PgBouncer 95 ms until 10.0.0.11 released it
"""

import contextlib
import os
import socket
import threading
import time

from ansible_collections.opsforge.webstack.plugins.module_utils.pgbouncer import (
    open_admin_console,
    resume,
)
from ansible_collections.opsforge.webstack.plugins.module_utils.pgbouncer_pause import (
    BouncerPause,
    pause_argument_spec,
    signal_params_error,
)
from ansible_collections.opsforge.webstack.plugins.module_utils.postgres import (
    HAS_PSYCOPG2,
    connection_kwargs,
    elapsed_ms,
    ensure_psycopg2,
    new_module,
)
from ansible_collections.opsforge.webstack.plugins.module_utils.switchover import (
    HOLD_READY_PREFIX,
    HOLD_SIGNAL_PREFIX,
    QUERY_CANCELED,
    server_error_hint,
    server_params,
    server_tls_error,
    signal_application_name,
)

if HAS_PSYCOPG2:
    import psycopg2

# Seconds past the end of the wait (pg_sleep) after which the watchdog stops waiting for the primary's answer.
WATCHDOG_GRACE = 1.0


def validate_params(params):
    """Error message for unusable options, else None (pure but for the look at the CA file)."""
    for name in ("pause_wait", "hold_timeout"):
        if params.get(name, 1) <= 0:
            return f"{name} must be positive (got {params[name]})."
    return signal_params_error(params) or server_tls_error(params)


class Hold(BouncerPause):
    """One hold on this PgBouncer host: PAUSE, the signal and the wait for the release, then RESUME."""

    def __init__(self, module):
        super().__init__(module, {"released": False})
        self.gave_up = False

    def preflight(self):
        params = self.params
        kwargs = connection_kwargs(server_params(params, params["primary_host"], params["primary_port"], 1))
        # The wait for the release is one statement on this connection (pg_sleep), cancelled by the primary.
        kwargs.update(
            application_name=signal_application_name(params["signal_name"], HOLD_READY_PREFIX),
            options=f"-c statement_timeout={round((params['hold_timeout'] + 5) * 1000)}",
        )
        try:
            self.signal = psycopg2.connect(**kwargs)
            self.signal.autocommit = True
        except psycopg2.Error as exc:
            error = str(exc).strip()
            host = params["primary_host"]
            hint = server_error_hint(params, error, host)
            self.fail_before_pause(
                f"Cannot reach the primary {host}: {error}.{hint} Nothing was paused.", **self.result
            )
        self.console = open_admin_console(self.module)

    def barrier(self):
        failure = self.barrier_failure(HOLD_READY_PREFIX, HOLD_SIGNAL_PREFIX, "primary")
        if failure:
            self.fail_before_pause(
                f"Hold of PgBouncer {self.console.describe()}: {failure}; nothing was paused.", **self.result
            )

    def wait_release(self):
        """Signal that this host paused, then wait on the same connection until the primary cancels the wait."""
        params = self.params
        phase = time.monotonic()
        paused = signal_application_name(params["signal_name"], HOLD_SIGNAL_PREFIX)
        watchdog = threading.Timer(params["hold_timeout"] + WATCHDOG_GRACE, self.give_up)
        watchdog.start()
        cursor = self.signal.cursor()
        try:
            # One round trip: a release that comes right after the rename still finds the session in pg_sleep().
            cursor.execute("SET application_name = %s; SELECT pg_sleep(%s)", (paused, params["hold_timeout"]))
            self.failure = f"{params['primary_host']} did not release the hold within {params['hold_timeout']:g} s"
        except psycopg2.Error as exc:
            if exc.pgcode == QUERY_CANCELED:
                self.result["released"] = True
            elif self.gave_up:
                self.failure = (
                    f"the primary {params['primary_host']} did not answer within {params['hold_timeout']:g} s "
                    "(hold_timeout)"
                )
            else:
                self.failure = f"lost the primary {params['primary_host']} while paused: {str(exc).strip()}"
        finally:
            watchdog.cancel()
            self.timings["hold"] = elapsed_ms(phase)
            self.close_servers()

    def give_up(self):
        """The watchdog: the primary gave no answer past the hold's bound. Resume PgBouncer from here (fresh
        consoles), then end the blocked wait by shutting its socket down, which the main thread sees as an error."""
        self.gave_up = True
        resume(self.params, 5, attempts=3)
        conn = self.signal
        if conn is not None:
            with contextlib.suppress(OSError, psycopg2.Error), socket.socket(fileno=os.dup(conn.fileno())) as sock:
                sock.shutdown(socket.SHUT_RDWR)

    def critical_section(self):
        """PAUSE, signal and wait for the release; RESUME whatever happened."""
        self.start = time.monotonic()
        try:
            self.pause()
            if self.failure is None:
                self.wait_release()
        finally:
            self.finish()

    def finish(self):
        super().finish()
        self.result["changed"] = self.paused


def main():
    argument_spec = pause_argument_spec()
    argument_spec.update(
        primary_host={"type": "str", "required": True},
        primary_port={"type": "int", "default": 5432},
        hold_timeout={"type": "float", "default": 10},
    )
    module = new_module(argument_spec, validate_params)
    params = module.params
    ensure_psycopg2(module)

    hold = Hold(module)
    hold.preflight()
    target = hold.console.describe()
    if module.check_mode:
        hold.close_servers()
        hold.console.close()
        hold.result.update(changed=True, msg=f"would pause {target} until {params['primary_host']} releases it")
        module.exit_json(**hold.result)
    if params["peers"]:
        hold.barrier()
    hold.critical_section()

    result = hold.result
    if hold.failure:
        after = "; resumed." if hold.resumed else "."
        module.fail_json(msg=f"Hold of PgBouncer {target}: {hold.failure}{after}", **result)
    result["msg"] = f"held PgBouncer {result['pause_ms']} ms until {params['primary_host']} released it"
    module.exit_json(**result)


if __name__ == "__main__":
    main()
