# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The PgBouncer side of a pause that another host ends: pgbouncer_switchover (until the target is promoted) and
pgbouncer_hold (until the primary has fixed the drill's snapshot).

Both hold a signal connection to a database server, wait at a barrier until every peer holds one (so that the pools
pause together however far apart Ansible started the hosts), PAUSE, and always RESUME what they paused. What ends the
pause, and the signal's names (module_utils/switchover.py), are each module's own.
"""

import contextlib
import time

from ansible_collections.opsforge.webstack.plugins.module_utils.pgbouncer import (
    AdminError,
    AdminTimeout,
    pgbouncer_common_argument_spec,
    resume,
)
from ansible_collections.opsforge.webstack.plugins.module_utils.postgres import HAS_PSYCOPG2, elapsed_ms
from ansible_collections.opsforge.webstack.plugins.module_utils.switchover import (
    signal_name_error,
    switchover_credentials_argument_spec,
    wait_for_peers,
)

if HAS_PSYCOPG2:
    import psycopg2


def pause_argument_spec():
    """The options both PgBouncer-side modules share: the admin console's login, the switchover login on the database
    servers, the signal and the barrier, and the PAUSE's bound (the doc fragments pgbouncer, switchover)."""
    return {
        **pgbouncer_common_argument_spec(),
        **switchover_credentials_argument_spec(),
        "signal_name": {"type": "str", "required": True},
        "peers": {"type": "list", "elements": "str", "default": []},
        "barrier_timeout": {"type": "float", "default": 10},
        "pause_wait": {"type": "float", "default": 3},
        "poll_interval_ms": {"type": "int", "default": 20},
    }


def signal_params_error(params):
    """The options both PgBouncer-side modules check alike (signal_name, peers, barrier_timeout, poll_interval_ms):
    an error message, else None (pure)."""
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
    if not 1 <= params.get("poll_interval_ms", 20) <= 1000:
        return "poll_interval_ms must be between 1 and 1000."
    return None


class BouncerPause:
    """One PgBouncer host's pause: the admin console and the signal connection (opened by the module), the timings,
    the result and the first failure. finish() always resumes what pause() paused."""

    # What a PAUSE that did not finish in time adds to the failure (where the clients go on).
    PAUSE_TIMEOUT_OUTCOME = ""

    def __init__(self, module, result):
        self.module = module
        self.params = module.params
        self.timings = {}
        self.result = {"changed": False, **result, "timings": self.timings}
        self.signal = None
        self.console = None
        self.start = None
        self.paused = False
        self.resumed = False
        self.failure = None

    def close_servers(self):
        """Close the connections to the database servers (the signal's, and a module's own)."""
        if self.signal is not None:
            with contextlib.suppress(psycopg2.Error):
                self.signal.close()
            self.signal = None

    def fail_before_pause(self, msg, **result):
        self.close_servers()
        if self.console is not None:
            self.console.close()
        self.module.fail_json(msg=msg, **result)

    def barrier_failure(self, ready_prefix, paused_prefix, server):
        """Wait until every peer holds its connection to server (where the signal connection goes); why the pause
        must not start, else None."""
        phase = time.monotonic()
        failure = None
        try:
            missing = wait_for_peers(self.signal, self.params, ready_prefix, paused_prefix)
        except psycopg2.Error as exc:
            missing, failure = None, f"lost the {server} at the barrier: {str(exc).strip()}"
        self.timings["barrier"] = elapsed_ms(phase)
        if missing:
            failure = (
                f"{', '.join(missing)} did not reach the barrier within {self.params['barrier_timeout']:g} s"
                f" (not started, or cannot reach the {server})"
            )
        return failure

    def pause(self):
        pause_wait = self.params["pause_wait"]
        try:
            self.console.run("PAUSE", pause_wait)
            self.paused = True
        except AdminTimeout:
            self.paused = True  # PgBouncer keeps trying to pause; the RESUME of finish() undoes it
            self.failure = (
                f"PAUSE did not finish within {pause_wait:g} s (clients hold transactions open)"
                + self.PAUSE_TIMEOUT_OUTCOME
            )
        except AdminError as exc:
            self.paused = True  # PgBouncer may have taken it before the error; a RESUME of nothing paused is harmless
            self.failure = f"PAUSE failed: {exc}"
        self.timings["pause"] = elapsed_ms(self.start)

    def finish(self):
        self.close_servers()
        if self.paused:
            phase = time.monotonic()
            resume_error = resume(self.params, 5, console=self.console, attempts=3)
            self.timings["resume"] = elapsed_ms(phase)
            self.result["pause_ms"] = elapsed_ms(self.start)
            self.resumed = resume_error is None
            if resume_error:
                self.failure = (self.failure + "; " if self.failure else "") + (
                    f"RESUME failed ({resume_error}): run RESUME by hand"
                )
        self.console.close()
