# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The leader watcher (roles/pgbouncer/files/webstack_pgbouncer_follow.py) as the role installs it: beside the
collection's pgbouncer_console.py and pgbouncer_follow.py. No host, no PgBouncer: the REST API's answers and the
admin console are stand-ins."""

import http.server
import importlib.util
import json
import shutil
import signal
import socket
import ssl
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[4]
INSTALLED = {
    "webstack_pgbouncer_follow.py": REPO / "roles" / "pgbouncer" / "files" / "webstack_pgbouncer_follow.py",
    "pgbouncer_console.py": REPO / "plugins" / "module_utils" / "pgbouncer_console.py",
    "pgbouncer_follow.py": REPO / "plugins" / "module_utils" / "pgbouncer_follow.py",
}


@pytest.fixture
def watcher(tmp_path, monkeypatch):
    lib = tmp_path / "lib"
    lib.mkdir()
    for name, source in INSTALLED.items():
        shutil.copy(source, lib / name)
    for name in ("pgbouncer_console", "pgbouncer_follow"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    spec = importlib.util.spec_from_file_location("webstack_pgbouncer_follow", lib / "webstack_pgbouncer_follow.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def follower(watcher, tmp_path, monkeypatch):
    (tmp_path / "password").write_text("s3cret-admin-password\n")
    config = {
        "members": [
            {"name": "db1", "address": "10.0.0.11", "api": "https://10.0.0.11:8008"},
            {"name": "db2", "address": "10.0.0.12", "api": "https://10.0.0.12:8008"},
        ],
        "ca_file": None,
        "databases": [{"name": "shop"}],
        "port": 5432,
        "suffix": "_ro",
        "output": str(tmp_path / "databases.ini"),
        "console": {"host": "/var/run/postgresql", "port": 6432, "user": "pgbouncer_admin"},
        "password_file": str(tmp_path / "password"),
        "interval": 1,
        "timeout": 2,
    }
    follower = watcher.Follower(json.loads(json.dumps(config)))
    follower.reloads = []
    follower.reload_results = []

    def reload():
        follower.reloads.append(True)
        return follower.reload_results.pop(0) if follower.reload_results else True

    monkeypatch.setattr(follower, "reload", reload)
    return follower


def answering(follower, **answers):
    follower.answers = lambda: answers


def test_a_new_leader_is_written_and_reloaded_once(follower, watcher, tmp_path):
    answering(follower, db1=watcher.Answer(True), db2=watcher.Answer(False, True))
    follower.round()
    assert (tmp_path / "databases.ini").read_text() == (
        "shop = host=10.0.0.11 port=5432 dbname=shop\nshop_ro = host=10.0.0.12 port=5432 dbname=shop\n"
    )
    assert oct((tmp_path / "databases.ini").stat().st_mode & 0o777) == "0o640"
    follower.round()
    assert len(follower.reloads) == 1


def test_no_single_leader_leaves_the_file_alone(follower, watcher, tmp_path):
    answering(follower, db1=watcher.Answer(True), db2=watcher.Answer(False, True))
    follower.round()
    written = (tmp_path / "databases.ini").read_text()
    answering(follower, db1=watcher.Answer(None, None, "timed out"), db2=watcher.Answer(False, True))
    follower.round()
    answering(follower, db1=watcher.Answer(True), db2=watcher.Answer(True))
    follower.round()
    assert (tmp_path / "databases.ini").read_text() == written
    assert len(follower.reloads) == 1


def test_a_failed_reload_is_tried_again_at_the_next_round(follower, watcher):
    follower.reload_results = [False, True]
    answering(follower, db1=watcher.Answer(None), db2=watcher.Answer(True))
    follower.round()
    assert follower.reload_pending
    follower.round()
    assert not follower.reload_pending and len(follower.reloads) == 2


def test_a_reload_that_cannot_reach_pgbouncer_is_logged_without_the_password(watcher, tmp_path, capsys):
    (tmp_path / "password").write_text("s3cret-admin-password\n")
    config = {
        "members": [{"name": "db1", "address": "10.0.0.11", "api": "https://10.0.0.11:8008"}],
        "ca_file": None,
        "console": {"host": str(tmp_path), "port": 6432, "user": "pgbouncer_admin"},
        "password_file": str(tmp_path / "password"),
    }
    assert watcher.Follower(config).reload() is False
    out = capsys.readouterr().out
    assert "RELOAD on PgBouncer failed" in out
    assert "s3cret-admin-password" not in out


@pytest.fixture
def member():
    """A stand-in for a member's REST API over plain HTTP: the status of each path is the test's to set."""
    statuses = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(statuses.get(self.path, 404))
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", statuses
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("primary", "replica", "answer"),
    [(200, 503, (True, None)), (503, 200, (False, True)), (503, 503, (False, False))],
)
def test_http_statuses_become_answers(watcher, member, primary, replica, answer):
    api, statuses = member
    statuses.update({"/primary": primary, "/replica": replica})
    got = watcher.answer_of(api, watcher.opener(ssl.create_default_context()), 2)
    assert (got.primary, got.replica) == answer


def test_a_member_that_does_not_answer_is_unknown(watcher):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    got = watcher.answer_of(f"http://127.0.0.1:{port}", watcher.opener(ssl.create_default_context()), 2)
    assert got.primary is None and got.error


class _Enough(Exception):
    pass


def test_sigusr1_starts_the_next_round_at_once(follower, monkeypatch):
    """The switchover's nudge: a round 30 s away starts as soon as SIGUSR1 comes (blocked, as main() blocks it)."""
    follower.config["interval"] = 30
    rounds = []

    def counted_round():
        rounds.append(time.monotonic())
        if len(rounds) == 2:
            raise _Enough

    monkeypatch.setattr(follower, "round", counted_round)
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    try:
        threading.Timer(0.2, signal.pthread_kill, (threading.get_ident(), signal.SIGUSR1)).start()
        with pytest.raises(_Enough):
            follower.run()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    assert 0.1 < rounds[1] - rounds[0] < 5
