# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark (not a test): a rolling deploy (or any playbook) under continuous HTTPS load through nginx.

Sends requests from this machine to the lab's load balancer (a mix of GET /api/catalog, GET /healthz and
POST /api/orders, which nginx never retries) from several threads, runs the given playbook after --before
seconds, keeps the load for --after seconds once it ends, and prints for each phase: requests, failed
(non-2xx and connection errors), p50 and p99 latency in ms. Traffic goes only to the given lab address,
for the site's name (--server-name, in SNI and Host: nginx refuses a bare address); the run is bounded
by --max-seconds and stops by itself.

    .venv/bin/python tests/benchmarks/deploy_under_load.py -- playbooks/deploy.yml -e deploy_version=1.0.1
"""

import argparse
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ORDER = json.dumps({"customer": "load", "items": [{"sku": "STICKER-PACK", "qty": 1}]})
LOG = REPO / ".cache" / "logs" / "deploy_under_load-playbook.log"
# How a request fails when the server closed the reused connection before reading it.
KEEPALIVE_CLOSED = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ssl.SSLEOFError)
REQUESTS = [("GET", "/api/catalog", None), ("GET", "/healthz", None), ("POST", "/api/orders", ORDER)]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="10.77.0.10", help="the lab load balancer's address (lb1)")
    parser.add_argument("--server-name", default="lb1", help="the site's name there (nginx_server_name)")
    parser.add_argument("--threads", type=int, default=6)
    parser.add_argument("--before", type=float, default=10, help="seconds of load before the playbook")
    parser.add_argument("--after", type=float, default=10, help="seconds of load after the playbook")
    parser.add_argument("--max-seconds", type=float, default=900, help="stop everything after this long")
    parser.add_argument("playbook", nargs=argparse.REMAINDER, help="-- then ansible-playbook arguments")
    args = parser.parse_args()
    args.playbook = [arg for arg in args.playbook if arg != "--"]
    if not args.playbook:
        parser.error("give the playbook to run after --, for example: -- playbooks/deploy.yml -e deploy_version=1.0.1")
    return args


class SiteConnection(http.client.HTTPSConnection):
    """HTTPS to a given address for the site's name (SNI and Host), as a client that resolved the name to it."""

    def __init__(self, address, server_name, **kwargs):
        super().__init__(server_name, 443, **kwargs)
        self.address = address

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class Load:
    """Threads that each keep one HTTPS connection and record (start, seconds, ok) per request. Each thread sends
    its requests back to back, or one every INTERVAL seconds (the lab tests: traffic to check, on CPU they share)."""

    def __init__(self, host, threads, server_name="lb1", interval=0.0):
        self.host = host
        self.server_name = server_name
        self.interval = interval
        self.stop = threading.Event()
        self.records = []
        self.errors = []  # (wall-clock time, request, what happened)
        self.keepalive_retries = 0
        self.lock = threading.Lock()
        self.context = ssl.create_default_context()
        self.context.check_hostname = False
        self.context.verify_mode = ssl.CERT_NONE  # the lab's certificate is self-signed
        self.threads = [threading.Thread(target=self.run, args=(n,), daemon=True) for n in range(threads)]

    def connect(self):
        return SiteConnection(self.host, self.server_name, timeout=30, context=self.context)

    def run(self, number):
        connection, reused = self.connect(), False
        count = number
        while not self.stop.is_set():
            method, path, body = REQUESTS[count % len(REQUESTS)]
            count += 1
            started = time.monotonic()
            ok = False
            # One retry, as HTTP clients do, only when nginx closed an idle keep-alive
            # connection (a reload does that) before the request reached it: the
            # request then fails on a reused connection before any response byte,
            # as a reset, a broken pipe or, with TLS, an EOF without close_notify.
            for _attempt in range(2):
                try:
                    headers = {"Content-Type": "application/json"} if body else {}
                    connection.request(method, path, body=body, headers=headers)
                    response = connection.getresponse()
                    response.read()
                    ok = 200 <= response.status < 300
                    if not ok:
                        self.note_error(started, method, path, f"HTTP {response.status}")
                    reused = True
                    break
                except KEEPALIVE_CLOSED as error:
                    connection.close()
                    connection = self.connect()
                    if not reused:
                        self.note_error(started, method, path, f"{type(error).__name__}: {error}")
                        break
                    reused = False
                    with self.lock:
                        self.keepalive_retries += 1
                except (OSError, http.client.HTTPException) as error:
                    self.note_error(started, method, path, f"{type(error).__name__}: {error}")
                    connection.close()
                    connection, reused = self.connect(), False
                    break
            with self.lock:
                self.records.append((started, time.monotonic() - started, ok))
            self.stop.wait(self.interval - (time.monotonic() - started))

    def note_error(self, started, method, path, what):
        with self.lock:
            self.errors.append((time.time() - (time.monotonic() - started), f"{method} {path}", what))

    def start(self):
        for thread in self.threads:
            thread.start()

    def finish(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=35)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def report(records, phases):
    print(f"{'phase':<8} {'requests':>9} {'failed':>7} {'p50 ms':>8} {'p99 ms':>8}")
    total_failed = 0
    for name, start, end in phases:
        chosen = [(seconds, ok) for started, seconds, ok in records if start <= started < end]
        failed = sum(1 for _seconds, ok in chosen if not ok)
        total_failed += failed
        latencies = [seconds * 1000 for seconds, _ok in chosen]
        p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        print(f"{name:<8} {len(chosen):>9} {failed:>7} {p50:>8.1f} {p99:>8.1f}")
    return total_failed


def main():
    args = parse_args()
    load = Load(args.host, args.threads, args.server_name)
    deadline = time.monotonic() + args.max_seconds
    load.start()
    begin = time.monotonic()
    time.sleep(args.before)
    playbook_start = time.monotonic()
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "lab" / "ansible.cfg")}
    try:
        result = subprocess.run(
            ["ansible-playbook", *args.playbook],
            cwd=REPO,
            env=env,
            timeout=max(1, deadline - time.monotonic()),
            capture_output=True,
            text=True,
            check=False,
        )
        playbook_rc = result.returncode
        LOG.parent.mkdir(parents=True, exist_ok=True)
        LOG.write_text(result.stdout + result.stderr)
        if playbook_rc != 0:
            sys.stderr.write(result.stdout[-4000:])
    except subprocess.TimeoutExpired:
        playbook_rc = -1
    playbook_end = time.monotonic()
    time.sleep(max(0, min(args.after, deadline - time.monotonic())))
    load.finish()
    end = time.monotonic()
    print(f"playbook: {' '.join(args.playbook)} -> rc {playbook_rc} in {playbook_end - playbook_start:.1f} s ({LOG})")
    failed = report(
        load.records,
        [("before", begin, playbook_start), ("during", playbook_start, playbook_end), ("after", playbook_end, end)],
    )
    print(f"failed requests in all: {failed}")
    for when, request, what in load.errors[:20]:
        stamp = time.strftime("%H:%M:%S", time.localtime(when)) + f".{int(when % 1 * 1000):03d}"
        print(f"  {stamp}  {request:<18} {what}")
    print(f"requests retried once after nginx closed an idle keep-alive connection: {load.keepalive_retries}")
    return 0 if playbook_rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
