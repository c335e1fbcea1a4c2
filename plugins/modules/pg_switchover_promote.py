#!/usr/bin/python
# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: pg_switchover_promote
short_description: Promote a standby in a switchover once every PgBouncer host has paused
version_added: 0.1.0
description:
  - The promoting half of the critical section of a planned switchover; the other half is
    M(opsforge.webstack.pgbouncer_switchover) on every PgBouncer host. Both run at the same time as async jobs,
    and coordinate through the old primary, with no Ansible task in between.
  - Runs on the target standby. Connects to the old primary over TCP as O(switchover_user), with the TLS of
    O(switchover_ssl_mode) and O(switchover_ca_cert), and waits, at most O(signal_timeout) seconds, until every
    host in O(bouncers) holds a connection there whose C(application_name) is
    C(webstack-switchover-paused:<name>), which each does only once its pools are paused.
  - Then reads C(pg_current_wal_flush_lsn()) on the old primary (every acknowledged commit is at or before it),
    waits at most O(catchup_timeout) seconds until the local replay position reaches it, checks the signals
    again, and promotes with C(pg_promote()). It returns once the server accepts a write.
  - It refuses, changing nothing, when not every PgBouncer host signalled in time, when the standby does not
    catch up in time, or when the oldest pause is older than O(pause_timeout) - O(pause_wait) - O(promote_wait)
    - 2 seconds. The PgBouncer side gives up O(pause_timeout) seconds after PAUSE, so this module can never
    promote after a PgBouncer host could have resumed on the old primary.
  - A different module from M(opsforge.webstack.pg_promote), which promotes unconditionally (for failover and
    tests); this one only promotes inside the switchover protocol.
  - With O(switchover_ssl_mode=verify-full) it refuses, before anything changes, when O(switchover_ca_cert) is not
    a readable file, when the old primary's certificate is not signed by that CA, or when it does not name
    O(old_primary_host).
  - With O(patroni) (a cluster that Patroni runs), the promotion is Patroni's - C(pg_promote()) behind Patroni's back
    could leave two primaries. Before waiting for anything it asks the leader's C(GET /cluster) and refuses, changing
    nothing, when Patroni would not switch over now (paused, no leader or another one, the candidate not a healthy
    streaming replica). After the signals and the catch-up it sends C(POST /switchover) with the leader and the
    candidate, and returns once the local server accepts a write (Patroni checkpoints and stops the leader, releases
    the leader key, and the candidate takes it and promotes). O(promote_without_archive) does not apply there
    (Patroni owns the server's recovery settings).
author:
  - opsforge developers (@opsforge)
attributes:
  check_mode:
    support: full
    description: Connects to both servers, checks the target is a standby and the bounds fit, and waits for nothing.
extends_documentation_fragment:
  - opsforge.webstack.attributes
  - opsforge.webstack.postgres
  - opsforge.webstack.postgres.tls
  - opsforge.webstack.switchover
  - opsforge.webstack.switchover.critical_section
options:
  old_primary_host:
    description: Address of the current (old) primary, where the PgBouncer hosts signal.
    type: str
    required: true
  old_primary_port:
    description: Port of the old primary.
    type: int
    default: 5432
  catchup_timeout:
    description: Seconds to wait for the local replay position to reach the old primary's flush position.
    type: float
    default: 3
  promote_wait:
    description: Seconds the promotion may take until the server accepts writes.
    type: float
    default: 3
  poll_interval_ms:
    description: Milliseconds between two looks at the signals, the replay position or the promotion.
    type: int
    default: 20
  promote_without_archive:
    description:
      - Promote without asking the WAL archive. At promotion PostgreSQL runs C(restore_command) for WAL it may
        not have yet and for the next timeline's history file; against a WAL archive on S3 these lookups took
        about 300 ms, all of it inside the PgBouncer pause. The module already waits until the standby has
        replayed everything the old primary flushed, so the archive has nothing more to give.
      - When V(true) and C(restore_command) is set, the module runs it once for the next timeline's history file
        first, before it waits for the PgBouncer hosts (bounded by O(archive_lookup_timeout)), and refuses when the
        archive has one (another server already took that timeline). It then sets C(restore_command) to an empty
        string (C(ALTER SYSTEM), reload) and puts it back as it was (reset, or the earlier C(ALTER SYSTEM)
        value), with a reload, whatever the outcome.
      - Just before the promotion it checks that the set-aside still holds, and makes it again when it does not
        (Patroni, paused too, removes recovery settings from C(postgresql.auto.conf) when it rewrites its
        configuration).
    type: bool
    default: true
  archive_lookup_timeout:
    description:
      - Seconds the lookup of O(promote_without_archive) may take. The PgBouncer hosts may already be pausing
        while it runs, so an archive that does not answer must not hold their pause. Past this bound the lookup is
        killed and the module refuses, before anything is promoted or set aside.
    type: float
    default: 5
  old_primary_stops:
    description:
      - The old primary is stopped by M(opsforge.webstack.pg_switchover_stop) once every PgBouncer host paused
        (the switchover role's Patroni mode, with Patroni in maintenance mode). The module then does not connect to
        the old primary; it waits, at most O(signal_timeout) seconds, until a connection to the local server is named
        C(webstack-switchover-stopped:<location>) (that module's signal, with the location of the old primary's
        shutdown checkpoint), replays past that record within O(catchup_timeout) seconds and promotes with
        C(pg_promote()). Everything the old primary wrote is then here, and it can follow this server without
        C(pg_rewind).
      - The checks of the PgBouncer hosts' signals and of their age are that module's, made before it stops the
        old primary; once it is stopped no client can write there.
    type: bool
    default: false
  patroni:
    description:
      - Switch over through Patroni's REST API instead of C(pg_promote()) (postgresql_ha patroni).
    type: dict
    suboptions:
      api_url:
        description: The leader's REST API root, for example V(https://10.0.0.11:8008).
        type: str
        required: true
      leader:
        description: Patroni's name of the leader (the old primary).
        type: str
        required: true
      candidate:
        description: Patroni's name of this member, the one to switch over to.
        type: str
        required: true
      user:
        description: The REST API's user (basic authentication).
        type: str
        required: true
      password:
        description: Its password.
        type: str
        required: true
      ca_cert:
        description: The CA file on this host that signs the REST API's certificate; unset, the system's CAs.
        type: path
      timeout:
        description: Seconds one request to the REST API may take before anything is paused.
        type: float
        default: 5
notes:
  - The login options point at the local standby; connect as a superuser (for example C(become_user=postgres)
    over the unix socket), since C(pg_promote()) needs it.
  - O(ssl_mode) and O(ca_cert) are the local login's (libpq ignores them on the unix socket); the connection to the
    old primary takes O(switchover_ssl_mode) and O(switchover_ca_cert), and O(ssl_mode) and O(ca_cert) only where
    those are not set.
seealso:
  - module: opsforge.webstack.pgbouncer_switchover
  - module: opsforge.webstack.pg_promote
"""

EXAMPLES = r"""
- name: Promote db2 once app1 and app2 have paused (launched before the PgBouncer side)
  opsforge.webstack.pg_switchover_promote:
    old_primary_host: 10.0.0.11
    switchover_user: switchover
    switchover_password: "{{ postgresql_switchover_password }}"
    switchover_ssl_mode: verify-full
    switchover_ca_cert: /etc/postgresql/15/main/tls/ca.crt
    bouncers: [app1, app2]
  become: true
  become_user: postgres
  async: 60
  poll: 0
  register: __promote_job

- name: The same in a cluster that Patroni runs - Patroni switches over once app1 has paused
  opsforge.webstack.pg_switchover_promote:
    old_primary_host: 10.0.0.11
    switchover_user: switchover
    switchover_password: "{{ postgresql_switchover_password }}"
    switchover_ssl_mode: verify-full
    switchover_ca_cert: /etc/postgresql/17/main/tls/ca.crt
    bouncers: [app1]
    promote_wait: 8
    patroni:
      api_url: https://10.0.0.11:8008
      leader: db1
      candidate: db2
      user: patroni
      password: "{{ postgresql_patroni_restapi_password }}"
      ca_cert: /etc/postgresql/17/main/tls/ca.crt
  become: true
  become_user: postgres
  async: 60
  poll: 0
  register: __promote_job
"""

RETURN = r"""
timeline:
  description: The timeline after promotion.
  returned: when promoted
  type: int
  sample: 3
old_primary_lsn:
  description: The old primary's flush position the standby had to reach (with O(old_primary_stops), its shutdown
    checkpoint's location).
  returned: when every signal came
  type: str
  sample: 0/5A0010D8
promote_lsn:
  description: The replay position at promotion.
  returned: when promoted
  type: str
  sample: 0/5A0010D8
pause_age_ms:
  description: Age of the oldest pause (from its signal connection's start) right before promoting.
  returned: when every signal came (not with O(old_primary_stops), where pg_switchover_stop reports it)
  type: int
  sample: 43
timings:
  description: Milliseconds for each phase, C(signals) (from the module's start), C(catchup), C(promote)
    (until a write is accepted) and C(total).
  returned: always
  type: dict
  sample: {"signals": 1210, "catchup": 2, "promote": 118, "total": 1335}
patroni:
  description:
    - With O(patroni) - C(status) and C(body) of Patroni's answer to C(POST /switchover) (empty while it had not
      answered when the server took writes, since Patroni answers after its next look at the cluster), and
      C(request_ms), when the request was sent (milliseconds from the module's start).
  returned: when O(patroni) is set and the request was sent
  type: dict
  sample: {"status": 200, "body": "Successfully switched over to \"db2\"", "request_ms": 1240}
restore_command_set_aside:
  description: Whether C(restore_command) was set aside for the promotion (see O(promote_without_archive)).
  returned: always
  type: bool
  sample: true
restore_command_set_aside_again:
  description:
    - Whether C(restore_command) had to be set aside a second time, just before the promotion, because something
      had undone the first (Patroni, paused too, removes recovery settings from C(postgresql.auto.conf) when it
      rewrites its configuration).
  returned: always
  type: bool
  sample: false
promotion_woken:
  description:
    - How many times the promoting server's startup process was woken (with a reload) from the sleep of
      C(wal_retrieve_retry_interval) it can take after the promote request when its WAL stream failed shortly before,
      as it does once the old primary stops (up to 5 s by default, past O(promote_wait)).
  returned: when the promotion was asked for
  type: int
  sample: 0
signals:
  description: The signal names seen on the old primary with the age of each in seconds.
  returned: always
  type: dict
  sample: {"app1": 0.05}
msg:
  description: What the module did.
  returned: always
  type: str
  sample: promoted to timeline 3 with 2 PgBouncer hosts paused for 43 ms
"""

import os
import tempfile
import threading
import time
import traceback

from ansible_collections.opsforge.webstack.plugins.module_utils.lsn import format_lsn, parse_lsn
from ansible_collections.opsforge.webstack.plugins.module_utils.patroni import (
    Response,
    patroni_argument_spec,
    request,
    switchover_outcome,
    switchover_refusal,
)
from ansible_collections.opsforge.webstack.plugins.module_utils.postgres import (
    HAS_PSYCOPG2,
    PromotionWatch,
    connect,
    current_timeline,
    describe_target,
    elapsed_ms,
    ensure_psycopg2,
    fetch_one,
    new_module,
    poll_until,
    try_connect,
)
from ansible_collections.opsforge.webstack.plugins.module_utils.switchover import (
    RESTORE_COMMAND_ASIDE_SQL,
    RESTORE_COMMAND_SQL,
    STOPPED_SQL,
    CriticalSection,
    caught_up,
    critical_section_argument_spec,
    critical_section_params_error,
    expand_restore_command,
    fetch_from_archive,
    history_file_name,
    server_error_hint,
    server_params,
    server_tls_error,
    stopped_query_args,
)

if HAS_PSYCOPG2:
    import psycopg2

NO_LAG_BOUND = 2**62


def validate_params(params):
    """Error message for unusable options, else None (pure but for the look at the CA file)."""
    bounds = critical_section_params_error(params, ("catchup_timeout", "archive_lookup_timeout"))
    if not bounds and params["archive_lookup_timeout"] >= params["signal_timeout"]:
        bounds = (
            f"archive_lookup_timeout ({params['archive_lookup_timeout']:g} s) must be shorter than signal_timeout "
            f"({params['signal_timeout']:g} s): the lookup takes its time from the wait for the signals."
        )
    patroni = params.get("patroni")
    if not bounds and patroni and params.get("old_primary_stops"):
        bounds = "patroni and old_primary_stops exclude each other (Patroni stops the old primary itself)."
    if not bounds and patroni and patroni["leader"] == patroni["candidate"]:
        bounds = f"patroni: leader and candidate are the same member ({patroni['leader']})."
    if not bounds and patroni and not patroni["api_url"].startswith("https://"):
        bounds = f"patroni: api_url must be https:// (the REST API's password goes with it), got {patroni['api_url']}."
    return bounds or server_tls_error(params)


def old_primary_params(params):
    """The connection to the old primary: the switchover login, with its TLS (pure)."""
    return server_params(
        params, params["old_primary_host"], params["old_primary_port"], min(params["connect_timeout"], 5)
    )


class Promotion(CriticalSection):
    """One switchover promotion on the local standby: its two connections, timings and result.

    The phases run in order (connect, wait for the signals, catch up, check the signals again, promote);
    every refusal before pg_promote() leaves both servers as they were.
    """

    def __init__(self, module):
        super().__init__(module)
        self.expected = self.params["bouncers"]
        self.target = describe_target(self.params)
        self.result["restore_command_set_aside"] = False
        self.result["restore_command_set_aside_again"] = False
        self.local = None
        self.old = None
        self.replay_lsn = None
        self.restore_command_auto_conf = None

    def refuse(self, msg):
        if self.params["old_primary_stops"]:
            # pg_switchover_stop stops the old primary once every PgBouncer host paused, whatever this module does.
            after = (
                "Nothing was promoted; the old primary may be stopped already: the switchover role resumes Patroni, "
                "which starts it again."
            )
        else:
            after = "Nothing was changed; the old primary keeps serving."
        self.fail(f"Not promoting {self.target}: {msg} {after}")

    def connect(self):
        self.local = connect(self.module)
        if self.params["old_primary_stops"]:
            return
        old_params = old_primary_params(self.params)
        self.old, err = try_connect(old_params)
        if self.old is None:
            self.local.close()
            hint = server_error_hint(self.params, err, self.params["old_primary_host"])
            self.refuse(f"could not connect to the old primary as {describe_target(old_params)}: {err}.{hint}")

    def close(self):
        self.local.close()
        if self.old is not None:
            self.old.close()

    def next_timeline_in_archive(self, command):
        """Does the WAL archive hold the history file of the timeline this promotion would create?"""
        name = history_file_name(current_timeline(self.local, True) + 1)
        limit = self.params["archive_lookup_timeout"]
        with tempfile.TemporaryDirectory(prefix="webstack-promote-") as scratch:
            path = os.path.join(scratch, name)
            rc = fetch_from_archive(expand_restore_command(command, name, path), limit)
            if rc is None:
                self.refuse(
                    f"the WAL archive did not answer the lookup of {name} (restore_command) within {limit:g} s "
                    "(archive_lookup_timeout): check the archive's store (pgbackrest check) and run again."
                )
            return name if rc == 0 and os.path.exists(path) else None

    def set_aside_restore_command(self):
        """0. Before any pause: no WAL archive lookups in the promotion (see promote_without_archive)."""
        row = fetch_one(self.local, RESTORE_COMMAND_SQL)
        if not self.params["promote_without_archive"] or not row["command"]:
            return
        taken = self.next_timeline_in_archive(row["command"])
        if taken:
            self.refuse(
                f"the WAL archive already holds {taken}: another server promoted to that timeline. Find out which "
                "(pgbackrest info, the archive's history files) before any promotion."
            )
        self.restore_command_auto_conf = row["auto_conf"]
        fetch_one(self.local, "ALTER SYSTEM SET restore_command = ''")
        self.result["restore_command_set_aside"] = True
        fetch_one(self.local, "SELECT pg_reload_conf()")

    def keep_restore_command_aside(self, deadline):
        """Inside the pause, just before the promotion: is restore_command still set aside? Patroni, paused too,
        compares a replica's recovery settings with its own at each cycle, and when it rewrites its configuration it
        removes every recovery setting from postgresql.auto.conf: a cycle since set_aside_restore_command undoes it.
        Then set it aside again, a few milliseconds, against the archive lookups (about 300 ms) it saves."""
        if not self.result["restore_command_set_aside"] or self.restore_command_aside():
            return
        fetch_one(self.local, "ALTER SYSTEM SET restore_command = ''")
        fetch_one(self.local, "SELECT pg_reload_conf()")
        self.result["restore_command_set_aside_again"] = True
        # The postmaster passes the reload on to every process: this session takes it before its next command. At
        # most a quarter of promote_wait, which the promotion's own wait counts from the same moment.
        poll_until(self.restore_command_aside, bool, deadline, self.interval / 4)

    def restore_command_aside(self):
        """Set aside both in the files (Patroni may have rewritten them, its reload still on its way) and in what
        this session runs with (the reload of the set-aside has arrived)."""
        return fetch_one(self.local, RESTORE_COMMAND_ASIDE_SQL)["aside"]

    def put_back_restore_command(self):
        if not self.result["restore_command_set_aside"]:
            return
        if self.restore_command_auto_conf is None:
            fetch_one(self.local, "ALTER SYSTEM RESET restore_command")
        else:
            fetch_one(self.local, "ALTER SYSTEM SET restore_command = %s", [self.restore_command_auto_conf])
        fetch_one(self.local, "SELECT pg_reload_conf()")
        self.result["restore_command_set_aside"] = False

    def catch_up(self):
        """2. Replay everything the old primary has flushed (every acknowledged commit)."""
        old_lsn = parse_lsn(fetch_one(self.old, "SELECT pg_current_wal_flush_lsn()::text AS lsn")["lsn"])
        self.result["old_primary_lsn"] = format_lsn(old_lsn)
        if not self.replay_up_to(old_lsn):
            self.refuse(
                f"it replayed only up to {format_lsn(self.replay_lsn)} within {self.params['catchup_timeout']:g} s, "
                f"the old primary has flushed {format_lsn(old_lsn)}."
            )

    def replay_up_to(self, lsn):
        """Wait, at most catchup_timeout seconds, until this server has replayed up to lsn; has it?"""

        def replayed():
            replay = fetch_one(self.local, "SELECT pg_last_wal_replay_lsn()::text AS lsn")["lsn"]
            return parse_lsn(replay) if replay else None

        self.replay_lsn = self.timed_poll(
            "catchup", replayed, lambda found: caught_up(lsn, found), self.params["catchup_timeout"], self.interval / 4
        )
        return caught_up(lsn, self.replay_lsn)

    def wait_stopped(self):
        """1-2. The old primary stopped (pg_switchover_stop's signal), and its shutdown checkpoint replayed here."""

        def stopped():
            row = fetch_one(self.local, STOPPED_SQL, stopped_query_args())
            return parse_lsn(row["lsn"]) if row else None

        stop_lsn = poll_until(
            stopped, lambda lsn: lsn is not None, self.start + self.params["signal_timeout"], self.interval
        )
        self.timings["signals"] = elapsed_ms(self.start)
        if stop_lsn is None:
            self.refuse(
                f"the old primary did not signal within {self.params['signal_timeout']:g} s that it stopped "
                "(pg_switchover_stop's job on it tells why)."
            )
        self.result["old_primary_lsn"] = format_lsn(stop_lsn)
        # The replay position is the end of the last record replayed: past the checkpoint record's start.
        if not self.replay_up_to(stop_lsn + 1):
            self.fail(
                f"Not promoting {self.target}: the old primary stopped at {format_lsn(stop_lsn)}, and this server "
                f"replayed only up to {format_lsn(self.replay_lsn)} within {self.params['catchup_timeout']:g} s. "
                "The old primary is stopped; the switchover role resumes Patroni, which starts it again."
            )
        self.result["promote_lsn"] = format_lsn(self.replay_lsn)

    def recheck_signals(self):
        """3. Still every signal, and still young enough?"""
        decision, detail = self.read_signals(self.old)
        if decision == "wait":
            self.refuse(f"PgBouncer hosts {', '.join(detail)} stopped signalling (they gave up and resumed).")
        self.check_signals(decision, detail)
        self.result["promote_lsn"] = format_lsn(self.replay_lsn)

    def promote(self):
        """4. Promote, and wait until the server accepts writes."""
        phase = time.monotonic()
        self.keep_restore_command_aside(phase + self.params["promote_wait"] / 4)
        promoted = fetch_one(self.local, "SELECT pg_promote(wait => false) AS ok")["ok"]
        self.result["changed"] = True
        watch = PromotionWatch(self.local)
        writable = promoted and poll_until(
            watch.accepts_writes, bool, phase + self.params["promote_wait"], self.interval / 4
        )
        self.result["promotion_woken"] = watch.woken
        self.timings["promote"] = elapsed_ms(phase)
        if not writable:
            self.fail(
                f"{self.target} was asked to promote but did not accept writes within "
                f"{self.params['promote_wait']:g} s. The promotion may still complete: check both servers "
                "(pg_replication_info) before anything else."
            )
        self.result["timeline"] = current_timeline(self.local, False)

    def patroni_request(self, method: str, path: str, timeout: float, body=None) -> Response:
        patroni = self.params["patroni"]
        return request(
            method,
            patroni["api_url"].rstrip("/") + path,
            patroni["ca_cert"],
            timeout,
            user=patroni["user"],
            password=patroni["password"],
            body=body,
        )

    def patroni_preflight(self):
        """0. Before any pause: would Patroni switch over from the leader to this member now?"""
        patroni = self.params["patroni"]
        try:
            answer = self.patroni_request("GET", "/cluster", patroni["timeout"])
            cluster = answer.json() if answer.status == 200 else None
        except (OSError, ValueError) as exc:
            self.refuse(f"Patroni's REST API {patroni['api_url']} did not answer GET /cluster ({exc}).")
        if not isinstance(cluster, dict):
            self.refuse(f"Patroni's REST API {patroni['api_url']} answered GET /cluster with {answer.status}.")
        # The lag bound is the role's (its plan checked it); the catch-up below is this module's own.
        refusal = switchover_refusal(cluster, patroni["leader"], patroni["candidate"], NO_LAG_BOUND)
        if refusal:
            self.refuse(f"Patroni would not switch over: {refusal}")

    def patroni_switchover(self):
        """4. Ask Patroni to switch over, and wait until the server accepts writes.

        Patroni answers POST /switchover only after its next look at the cluster (up to a second after the switch),
        so the request runs beside the wait for the first write, which ends the phase; its answer is waited for
        afterwards (the PgBouncer hosts do not wait for it) and reported.
        """
        patroni = self.params["patroni"]
        phase = time.monotonic()
        deadline = phase + self.params["promote_wait"]
        answer: dict = {}
        body = {"leader": patroni["leader"], "candidate": patroni["candidate"]}

        def ask():
            try:
                answer["response"] = self.patroni_request("POST", "/switchover", self.params["promote_wait"] + 5, body)
            except OSError as exc:
                answer["error"] = str(exc)

        sender = threading.Thread(target=ask, daemon=True)
        sender.start()
        self.result["changed"] = True
        self.result["patroni"] = {"request_ms": elapsed_ms(self.start)}
        watch = PromotionWatch(self.local)

        def state():
            failed = "error" in answer or ("response" in answer and answer["response"].status != 200)
            return "failed" if failed else ("writable" if watch.accepts_writes() else "waiting")

        outcome = poll_until(state, lambda found: found != "waiting", deadline, self.interval / 4)
        self.timings["promote"] = elapsed_ms(phase)
        self.result["promotion_woken"] = watch.woken
        sender.join(max(0.0, deadline + 3 - time.monotonic()))
        response = answer.get("response")
        if response is not None:
            self.result["patroni"].update(status=response.status, body=response.body.strip()[:300])
        if outcome == "writable":
            self.result["timeline"] = current_timeline(self.local, False)
            return
        if "error" in answer:
            cause = f"the request failed ({answer['error']}); Patroni may still switch over"
        elif response is not None and response.status != 200:
            cause = switchover_outcome(response, patroni["leader"], patroni["candidate"])
        else:
            cause = f"{self.target} did not accept writes within {self.params['promote_wait']:g} s"
        self.fail(
            f"Switchover through Patroni to {patroni['candidate']}: {cause}. Ask Patroni where the leader is "
            "(`patronictl list`) before anything else; the PgBouncer hosts resume by themselves."
        )

    def run(self):
        self.connect()
        try:
            row = fetch_one(self.local, "SELECT pg_is_in_recovery() AS in_recovery")
            if not row["in_recovery"]:
                self.refuse("it is not a standby (already a primary).")
            patroni = self.params["patroni"]
            if patroni:
                self.patroni_preflight()
            if self.module.check_mode:
                how = f"ask Patroni to switch over to {patroni['candidate']}" if patroni else f"promote {self.target}"
                self.result["changed"] = True
                self.succeed(f"would wait for {', '.join(self.expected)} to pause, then {how}")
            if not patroni:
                self.set_aside_restore_command()
            try:
                if self.params["old_primary_stops"]:
                    self.wait_stopped()
                else:
                    self.wait_signals(self.old)
                    self.catch_up()
                    self.recheck_signals()
                if patroni:
                    self.patroni_switchover()
                else:
                    self.promote()
            finally:
                self.put_back_restore_command()
        except psycopg2.Error as exc:
            self.fail(
                f"Switchover promotion on {self.target} failed: {str(exc).strip()} (promotion requested: "
                f"{self.result['changed']}).",
                exception=traceback.format_exc(),
            )
        finally:
            self.close()
        how = "Patroni switched over" if self.params["patroni"] else "promoted"
        if self.params["old_primary_stops"]:
            after = f"after the old primary stopped at {self.result['old_primary_lsn']}"
        else:
            after = f"with {len(self.expected)} PgBouncer hosts paused for {self.result['pause_age_ms']} ms before it"
        self.succeed(f"{how} to timeline {self.result['timeline']} {after}")


def main():
    argument_spec = critical_section_argument_spec()
    argument_spec.update(
        old_primary_host={"type": "str", "required": True},
        old_primary_port={"type": "int", "default": 5432},
        promote_without_archive={"type": "bool", "default": True},
        archive_lookup_timeout={"type": "float", "default": 5},
        old_primary_stops={"type": "bool", "default": False},
        patroni={"type": "dict", "options": patroni_argument_spec()},
    )
    module = new_module(argument_spec, validate_params)
    ensure_psycopg2(module)
    Promotion(module).run()


if __name__ == "__main__":
    main()
