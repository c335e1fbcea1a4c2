"""Points PgBouncer at the Patroni leader (opsforge.webstack.pgbouncer, Patroni mode), run by
webstack-pgbouncer-follow.service as an unprivileged user on every PgBouncer host.

Every `interval` seconds it asks each member's REST API, over TLS verified with the cluster's CA, GET /primary and
GET /replica, and decides with the collection's own code (pgbouncer_follow.py, installed beside this file): exactly
one member answering as primary is the target, none or several keep the current one. When the [databases] entries
for the target differ from the file PgBouncer includes, it replaces that file (a rename) and sends RELOAD on the
admin console (pgbouncer_console.py, the modules' own console code): PgBouncer closes the server connections of
a changed database as they are released, and the next transactions go to the new leader. No PAUSE: during a
failover the old leader may hold transactions that never finish, and PAUSE would wait for them.

SIGUSR1 starts the next round at once: the switchover role's PgBouncer side (pgbouncer_switchover, follow_unit)
sends it while PgBouncer is paused and the new leader has just taken writes, so that the pause does not wait for
the rest of an interval.

Usage: webstack_pgbouncer_follow.py CONFIG.json (the admin console's password is in the file it names, never on
the command line).
"""

import json
import os
import signal
import ssl
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pgbouncer_console import AdminError, AdminTimeout, Console
from pgbouncer_follow import Answer, Target, decide, render_databases

RELOAD_TIMEOUT = 5  # seconds; RELOAD only re-reads files


def log(message: str) -> None:
    print(message, flush=True)


def opener(context: ssl.SSLContext) -> urllib.request.OpenerDirector:
    """HTTPS verified with the cluster's CA, straight to the members: never through a proxy from the environment."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))


def ask(url: str, client: urllib.request.OpenerDirector, timeout: float) -> tuple[Optional[bool], str]:
    """True for 200, False for another HTTP status, None (and why) when the member does not answer."""
    try:
        with client.open(url, timeout=timeout) as response:
            return response.status == 200, ""
    except urllib.error.HTTPError:
        return False, ""
    except (OSError, ValueError) as exc:
        return None, str(getattr(exc, "reason", exc))


def answer_of(api: str, client: urllib.request.OpenerDirector, timeout: float) -> Answer:
    primary, error = ask(f"{api}/primary", client, timeout)
    if primary is not False:
        return Answer(primary, None, error)
    replica, error = ask(f"{api}/replica", client, timeout)
    return Answer(False, replica, error)


def write_atomically(path: str, text: str) -> None:
    """Replace path with text by a rename in its directory (PgBouncer never reads half a file)."""
    fd, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".databases-")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(temporary, 0o640)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def read_text(path: str) -> Optional[str]:
    try:
        with open(path) as handle:
            return handle.read()
    except FileNotFoundError:
        return None


class Follower:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.members = {member["name"]: member for member in config["members"]}
        self.addresses = {name: member["address"] for name, member in self.members.items()}
        self.client = opener(ssl.create_default_context(cafile=config["ca_file"]))
        with open(config["password_file"]) as handle:
            password = handle.read().strip()
        console = config["console"]
        self.console_kwargs = {
            "host": console["host"],
            "port": console["port"],
            "user": console["user"],
            "password": password,
        }
        self.pool = ThreadPoolExecutor(max_workers=len(self.members))
        self.last_reason = ""
        self.reload_pending = False

    def answers(self) -> dict[str, Answer]:
        timeout = self.config["timeout"]
        futures = {
            name: self.pool.submit(answer_of, member["api"], self.client, timeout)
            for name, member in self.members.items()
        }
        return {name: future.result() for name, future in futures.items()}

    def reload(self) -> bool:
        console = Console(self.console_kwargs, connect_timeout=RELOAD_TIMEOUT)
        try:
            console.open().run("RELOAD", RELOAD_TIMEOUT)
            return True
        except (AdminError, AdminTimeout) as exc:
            log(f"RELOAD on PgBouncer failed ({exc or 'no answer'}); trying again at the next round")
            return False
        finally:
            console.close()

    def point_at(self, target: Target) -> None:
        config = self.config
        text = render_databases(target, self.addresses, config["databases"], config["port"], config["suffix"])
        if read_text(config["output"]) != text:
            write_atomically(config["output"], text)
            readonly = ", ".join(target.replicas) or target.leader
            log(f"pointing PgBouncer at leader {target.leader}, the read-only alias at {readonly}")
            self.reload_pending = True
        if self.reload_pending:
            self.reload_pending = not self.reload()
            if not self.reload_pending:
                log(f"PgBouncer reloaded: leader {target.leader}")

    def round(self) -> None:
        answers = self.answers()
        decision = decide(answers)
        if decision.reason != self.last_reason:
            errors = "; ".join(f"{name}: {answer.error}" for name, answer in sorted(answers.items()) if answer.error)
            log(decision.reason + (f" ({errors})" if errors else ""))
            self.last_reason = decision.reason
        if decision.target is not None:
            self.point_at(decision.target)

    def run(self) -> None:
        interval = self.config["interval"]
        log(f"following the leader of {', '.join(self.members)} every {interval:g} s")
        while True:
            started = time.monotonic()
            self.round()
            # The rest of the interval, unless a SIGUSR1 (blocked, see main()) is or becomes pending.
            signal.sigtimedwait({signal.SIGUSR1}, max(0.0, interval - (time.monotonic() - started)))


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    # Blocked before any thread starts (the threads inherit the mask), so that a SIGUSR1 waits for sigtimedwait().
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    with open(sys.argv[1]) as handle:
        Follower(json.load(handle)).run()


if __name__ == "__main__":
    main()
