#!/usr/bin/python
# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: pg_switchover_stop
short_description: Stop the old primary in a switchover once every PgBouncer host has paused
version_added: 0.1.0
description:
  - The third half of the critical section of a switchover with Patroni in maintenance mode (the switchover role's
    Patroni mode); it runs on the old primary beside M(opsforge.webstack.pgbouncer_switchover) on every PgBouncer
    host and M(opsforge.webstack.pg_switchover_promote) with
    O(opsforge.webstack.pg_switchover_promote#module:old_primary_stops) on the target, as async jobs with no
    Ansible task in between.
  - Waits, at most O(signal_timeout) seconds, until every host in O(bouncers) holds a connection to the local server
    whose C(application_name) is C(webstack-switchover-paused:<name>) (each does once its pools are paused), and
    refuses, changing nothing, when one is missing or the oldest pause is older than O(pause_timeout) -
    O(pause_wait) - O(promote_wait) - 2 seconds (a PgBouncer host could then give up before the promotion).
  - Then stops the local server with a fast shutdown (C(SIGINT) to the postmaster) and waits, at most
    O(stop_timeout) seconds, until it has exited. A fast shutdown writes the shutdown checkpoint and ends only once
    the walsenders have sent it to the standbys and they confirmed it, so the target holds everything the old
    primary wrote and the old primary can later follow it without C(pg_rewind).
  - Reads the shutdown checkpoint's location with C(pg_controldata) (the cluster state must be C(shut down)) and
    tells the target by naming its connection there C(webstack-switchover-stopped:<location>). It then waits, at
    most O(catchup_timeout) + O(promote_wait) seconds, until the target is out of recovery, and ends.
  - Nothing restarts the server here; in Patroni's maintenance mode Patroni does not start a stopped server; the
    switchover role moves the leader key and resumes Patroni, which starts this member as a replica of the new leader.
author:
  - opsforge developers (@opsforge)
attributes:
  check_mode:
    support: full
    description: Connects to the local server and to the target, checks both roles and the data directory, and
      stops nothing.
extends_documentation_fragment:
  - opsforge.webstack.attributes
  - opsforge.webstack.postgres
  - opsforge.webstack.postgres.tls
  - opsforge.webstack.switchover
  - opsforge.webstack.switchover.critical_section
options:
  target_host:
    description: Address of the standby being promoted, where this module signals that the old primary stopped.
    type: str
    required: true
  target_port:
    description: Port of the target.
    type: int
    default: 5432
  bin_dir:
    description: PostgreSQL's directory of programs on this host (where C(pg_controldata) is).
    type: path
    required: true
  stop_timeout:
    description: Seconds the fast shutdown may take.
    type: float
    default: 5
  catchup_timeout:
    description: The O(opsforge.webstack.pg_switchover_promote#module:catchup_timeout) the target uses.
    type: float
    default: 3
  promote_wait:
    description: The O(opsforge.webstack.pg_switchover_promote#module:promote_wait) the target uses.
    type: float
    default: 3
  poll_interval_ms:
    description: Milliseconds between two looks at the signals, the postmaster or the target.
    type: int
    default: 20
notes:
  - The login options point at the local server; connect as the user that runs it (for example
    C(become_user=postgres) over the unix socket), which may signal the postmaster and read the data directory.
  - O(switchover_ssl_mode) and O(switchover_ca_cert) are the connection to the target's.
seealso:
  - module: opsforge.webstack.pg_switchover_promote
  - module: opsforge.webstack.pgbouncer_switchover
"""

EXAMPLES = r"""
- name: Stop db1 once app1 has paused, and tell db2 (launched after the promoting side, before the PgBouncer side)
  opsforge.webstack.pg_switchover_stop:
    target_host: 10.0.0.12
    switchover_user: switchover
    switchover_password: "{{ postgresql_switchover_password }}"
    switchover_ssl_mode: verify-full
    switchover_ca_cert: /etc/postgresql/17/main/tls/ca.crt
    bouncers: [app1]
    bin_dir: /usr/lib/postgresql/17/bin
  become: true
  become_user: postgres
  async: 60
  poll: 0
  register: __stop_job
"""

RETURN = r"""
stopped_lsn:
  description: The location of the old primary's shutdown checkpoint, which the target replays before it promotes.
  returned: when the server stopped
  type: str
  sample: 0/5A0010D8
pause_age_ms:
  description: Age of the oldest pause (from its signal) right before the stop.
  returned: when every signal came
  type: int
  sample: 35
signals:
  description: The signal names seen with the age of each in seconds.
  returned: always
  type: dict
  sample: {"app1": 0.03}
timings:
  description: Milliseconds for C(signals) (from the module's start), C(stop) (until the postmaster exited),
    C(told) (until the target was told) and C(promotion) (until the target was out of recovery), and C(total).
  returned: always
  type: dict
  sample: {"signals": 1210, "stop": 160, "told": 25, "promotion": 140, "total": 1540}
msg:
  description: What the module did.
  returned: always
  type: str
  sample: stopped at 0/5A0010D8, 1 PgBouncer host paused for 35 ms; the target promoted
"""

import os
import signal
import time
import traceback

from ansible_collections.opsforge.webstack.plugins.module_utils.postgres import (
    HAS_PSYCOPG2,
    connect,
    describe_target,
    elapsed_ms,
    ensure_psycopg2,
    fetch_one,
    new_module,
    try_connect,
)
from ansible_collections.opsforge.webstack.plugins.module_utils.switchover import (
    CriticalSection,
    controldata_fields,
    critical_section_argument_spec,
    critical_section_params_error,
    server_error_hint,
    server_params,
    server_tls_error,
    shutdown_checkpoint,
    stopped_application_name,
)

if HAS_PSYCOPG2:
    import psycopg2


def validate_params(params):
    """Error message for unusable options, else None (pure but for the look at the CA file)."""
    return critical_section_params_error(params, ("stop_timeout", "catchup_timeout")) or server_tls_error(params)


def postmaster_pid(data_dir):
    """The postmaster's pid from postmaster.pid's first line, or None when the file is gone."""
    try:
        with open(os.path.join(data_dir, "postmaster.pid")) as handle:
            return int(handle.readline().strip())
    except FileNotFoundError:
        return None


class Stop(CriticalSection):
    """One stop of the old primary in a switchover: its connections, timings and result."""

    def __init__(self, module):
        super().__init__(module)
        self.local = None
        self.target = None
        self.data_dir = None
        self.pid = None
        self.controldata = os.path.join(self.params["bin_dir"], "pg_controldata")

    def refuse(self, msg):
        self.fail(f"Not stopping the old primary: {msg} Nothing was changed; it keeps serving.")

    def target_params(self):
        return server_params(self.params, self.params["target_host"], self.params["target_port"], 5)

    def connect(self):
        self.local = connect(self.module)
        if fetch_one(self.local, "SELECT pg_is_in_recovery() AS r")["r"]:
            self.refuse(f"{describe_target(self.params)} is a standby, not the primary.")
        self.data_dir = fetch_one(self.local, "SELECT current_setting('data_directory') AS d")["d"]
        self.pid = postmaster_pid(self.data_dir)
        if self.pid is None:
            self.refuse(f"no postmaster.pid in {self.data_dir}.")
        if not os.access(self.controldata, os.X_OK):
            self.refuse(f"{self.controldata} is not an executable (bin_dir).")
        params = self.target_params()
        self.target, err = try_connect(params)
        if self.target is None:
            hint = server_error_hint(self.params, err, self.params["target_host"])
            self.refuse(f"could not connect to the target as {describe_target(params)}: {err}.{hint}")
        if not fetch_one(self.target, "SELECT pg_is_in_recovery() AS r")["r"]:
            self.refuse(f"the target {self.params['target_host']} is not a standby.")

    def stop(self):
        """2. Fast shutdown, and wait until the postmaster has exited (it removes postmaster.pid last)."""
        self.local.close()
        self.local = None
        os.kill(self.pid, signal.SIGINT)
        self.result["changed"] = True

        def gone():
            return postmaster_pid(self.data_dir) != self.pid

        if not self.timed_poll("stop", gone, bool, self.params["stop_timeout"], self.interval / 4):
            self.fail(
                f"The old primary (postmaster {self.pid}) was asked to stop (fast) but still runs after "
                f"{self.params['stop_timeout']:g} s; the target was not told and does not promote. It will stop; "
                "the switchover role resumes Patroni, which starts it again as the leader."
            )

    def stopped_lsn(self):
        """3. Where the shutdown checkpoint is, from pg_controldata (the cluster must be 'shut down')."""
        rc, out, err = self.module.run_command(
            [self.controldata, "-D", self.data_dir], environ_update={"LC_ALL": "C", "LANG": "C"}
        )
        location, why = shutdown_checkpoint(controldata_fields(out)) if rc == 0 else (None, err.strip())
        if location is None:
            self.fail(
                f"The old primary stopped, but not cleanly ({why}); the target was not told and does not promote. "
                "The switchover role resumes Patroni, which starts it again as the leader."
            )
        self.result["stopped_lsn"] = location
        return location

    def tell_target(self, location):
        """4. Name the connection on the target, then wait until the target is out of recovery."""
        phase = time.monotonic()
        try:
            name = stopped_application_name(location)
            fetch_one(self.target, "SELECT set_config('application_name', %s, false)", [name])
        except psycopg2.Error as exc:
            self.fail(
                f"The old primary stopped at {location}, but the target could not be told ({str(exc).strip()}): it "
                "does not promote. The switchover role resumes Patroni, which starts the old primary again."
            )
        self.timings["told"] = elapsed_ms(phase)

        def promoted():
            try:
                return not fetch_one(self.target, "SELECT pg_is_in_recovery() AS r")["r"]
            except psycopg2.Error:
                return False

        timeout = self.params["catchup_timeout"] + self.params["promote_wait"]
        if not self.timed_poll("promotion", promoted, bool, timeout, self.interval):
            self.fail(
                f"The old primary stopped at {location} and told the target, which was still in recovery "
                f"{self.params['catchup_timeout'] + self.params['promote_wait']:g} s later. Look at the target "
                "(pg_replication_info) before anything else."
            )

    def close(self):
        for conn in (self.local, self.target):
            if conn is not None:
                conn.close()

    def run(self):
        self.connect()
        try:
            if self.module.check_mode:
                self.result["changed"] = True
                self.succeed(f"would wait for {', '.join(self.params['bouncers'])} to pause, then stop the old primary")
            self.wait_signals(self.local)
            self.stop()
            location = self.stopped_lsn()
            self.tell_target(location)
        except psycopg2.Error as exc:
            self.fail(
                f"Stopping the old primary failed: {str(exc).strip()} (stop requested: {self.result['changed']}).",
                exception=traceback.format_exc(),
            )
        finally:
            self.close()
        self.succeed(
            f"stopped at {self.result['stopped_lsn']}, {len(self.params['bouncers'])} PgBouncer host(s) paused for "
            f"{self.result['pause_age_ms']} ms; the target promoted"
        )


def main():
    argument_spec = critical_section_argument_spec()
    argument_spec.update(
        target_host={"type": "str", "required": True},
        target_port={"type": "int", "default": 5432},
        bin_dir={"type": "path", "required": True},
        stop_timeout={"type": "float", "default": 5},
    )
    module = new_module(argument_spec, validate_params)
    ensure_psycopg2(module)
    Stop(module).run()


if __name__ == "__main__":
    main()
