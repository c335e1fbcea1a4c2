# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark (not a test): patch.yml over the whole lab while HTTPS load runs through lb1 and pgbench writes
through PgBouncer.

The upgrade comes from the lab tests' local apt repository (tests/lab/aptrepo.py), never from the Debian
mirror: webstack-patchdemo 1.0 -> 1.1 on every host (a service restarted in the role's controlled step) and
webstack-rebootdemo 1.0 -> 1.1 on the --reboot hosts (its postinst asks for a reboot). The packages, the source
and the repository are removed from every host at the end.

HTTP load: deploy_under_load.py's Load (GET /api/catalog, GET /healthz, POST /api/orders from several threads).
pgbench: inserts through the PgBouncer of --pgbench-host (run from the controller inside that container's network
namespace, as switchover.py does); that host gets no reboot, so its PgBouncer stays up while the app servers are
drained in turn. Prints failed requests (overall, and during the single-instance hosts' steps separately), failed
transactions, the total time and the time of each host from the run's report.

    .venv/bin/python tests/benchmarks/patch_under_load.py --password lab-shop-db-password-0001
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from deploy_under_load import Load, report
from labload import PGBENCH, PSQL, REPO, container_pid, in_netns, require_tools

sys.path.insert(0, str(REPO / "tests" / "lab"))
import aptrepo  # the lab tests' fixture

HOSTS = ["lb1", "app1", "app2", "worker1", "db1", "db2", "cache1", "s3", "drill1"]
SINGLE_INSTANCE = ["lb1", "cache1", "s3"]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lb", default="10.77.0.10", help="the lab load balancer's address (lb1)")
    parser.add_argument("--server-name", default="lb1", help="the site's name there (nginx_server_name)")
    parser.add_argument("--threads", type=int, default=4, help="HTTPS load threads")
    parser.add_argument("--clients", type=int, default=4, help="pgbench clients")
    parser.add_argument("--pgbench-host", default="app1", help="PgBouncer host pgbench goes through (not rebooted)")
    parser.add_argument("--reboot", default="db1,db2,app2,worker1", help="hosts whose upgrade asks for a reboot")
    parser.add_argument("--password", default=os.environ.get("PGPASSWORD", ""), help="the shop user's password")
    parser.add_argument("--before", type=float, default=10, help="seconds of load before the playbook")
    parser.add_argument("--max-seconds", type=int, default=1500, help="stop the playbook after this long")
    return parser.parse_args()


def main():
    args = parse_args()
    reboot = [h for h in args.reboot.split(",") if h]
    if args.pgbench_host in reboot:
        sys.exit("--pgbench-host must not be rebooted: pgbench would measure its own PgBouncer going away")
    require_tools(PGBENCH, PSQL, "nsenter", "podman", "dpkg-deb")
    work = Path(tempfile.mkdtemp(prefix="patch-bench-"))
    repo = aptrepo.build(work / "apt")
    for host in HOSTS:
        aptrepo.install(repo, host, [aptrepo.PATCHDEMO] + ([aptrepo.REBOOTDEMO] if host in reboot else []))

    pid = container_pid(f"lab-{args.pgbench_host}")
    env = dict(os.environ, PGPASSWORD=args.password, PGCONNECT_TIMEOUT="5")
    conn = ["-h", "127.0.0.1", "-p", "6432", "-U", "shop", "-d", "shop"]
    setup = "CREATE TABLE IF NOT EXISTS patch_bench (id bigserial PRIMARY KEY, client int, at timestamptz)"
    subprocess.run(in_netns(pid, [PSQL, "-XAtq", "-v", "ON_ERROR_STOP=1", *conn, "-c", setup]), env=env, check=True)
    script = work / "insert.sql"
    script.write_text("INSERT INTO patch_bench (client, at) VALUES (:client_id, now());\n")
    bench = [PGBENCH, "-n", "-c", str(args.clients), "-j", str(min(args.clients, 4)), "-T", "20"]
    bench += ["-f", str(script), *conn[:-2], "shop"]
    # pgbench runs in rounds of 20 s until the playbook ends, so that every round prints its own summary.
    stop, rounds = threading.Event(), []

    def writes():
        while not stop.is_set():
            done = subprocess.run(in_netns(pid, bench), env=env, capture_output=True, text=True, check=False)
            rounds.append(done.stdout + done.stderr)

    writer = threading.Thread(target=writes, daemon=True)

    load = Load(args.lb, args.threads, args.server_name)
    writer.start()
    load.start()
    begin = time.monotonic()
    time.sleep(args.before)
    play_start, wall_start = time.monotonic(), time.time()
    extra = json.dumps({"patch_scope": "all", "patch_packages": [aptrepo.PATCHDEMO, aptrepo.REBOOTDEMO]})
    try:
        result = subprocess.run(
            ["ansible-playbook", "playbooks/patch.yml", "-e", extra],
            cwd=REPO,
            env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "lab" / "ansible.cfg")},
            capture_output=True,
            text=True,
            timeout=args.max_seconds,
            check=False,
        )
        rc, out = result.returncode, result.stdout + result.stderr
    except subprocess.TimeoutExpired as timeout:
        rc, out = -1, str(timeout.stdout or "")
    play_end = time.monotonic()
    (work / "playbook.log").write_text(out)
    time.sleep(5)
    load.finish()
    stop.set()
    writer.join(timeout=60)
    end = time.monotonic()
    for host in HOSTS:
        aptrepo.remove(host)

    print(f"patch.yml: rc {rc} in {play_end - play_start:.1f} s (log: {work}/playbook.log)")
    failed = report(
        load.records, [("before", begin, play_start), ("during", play_start, play_end), ("after", play_end, end)]
    )
    print(f"failed requests in all: {failed}; retried once after a keep-alive close: {load.keepalive_retries}")
    reports = re.findall(r"report: (\S+\.json)", out)
    rows = json.loads(Path(reports[-1]).read_text())["hosts"] if reports else []
    offset = play_start - wall_start
    print(f"{'host':<8} {'status':<10} {'seconds':>8} {'rebooted':>8} {'failed requests':>16}")
    single_failed = 0
    for row in rows:
        started = row.get("started")
        window = (float(started) + offset, float(started) + offset + row["seconds"]) if started else None
        in_step = sum(1 for s, _d, ok in load.records if window and window[0] <= s < window[1] and not ok)
        if row["host"] in SINGLE_INSTANCE:
            single_failed += in_step
        seconds = f"{row['seconds']:.1f}" if row.get("seconds") is not None else "-"
        print(f"{row['host']:<8} {row['status']:<10} {seconds:>8} {row.get('rebooted', '-')!s:>8} {in_step:>16}")
    print(f"failed requests outside the single-instance hosts' steps: {failed - single_failed}")
    for when, request, what in load.errors[:20]:
        print(f"  {time.strftime('%H:%M:%S', time.localtime(when))}  {request:<18} {what}")
    bench_out = "\n".join(rounds)
    processed = sum(int(n) for n in re.findall(r"number of transactions actually processed: (\d+)", bench_out))
    bench_failed = sum(int(n) for n in re.findall(r"number of failed transactions: (\d+)", bench_out))
    aborted = len(re.findall(r"client \d+ aborted", bench_out))
    print(
        f"pgbench: {processed} transactions in {len(rounds)} rounds, {bench_failed} failed, {aborted} clients aborted"
    )
    if rc != 0:
        print(out[-3000:])
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
