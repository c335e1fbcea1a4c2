# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark (not a test): a planned switchover under pgbench load through PgBouncer.

Runs the controller's pgbench inside the network namespace of one PgBouncer host's container (so nothing is
installed there), writing one row per transaction through PgBouncer on 127.0.0.1:6432, runs
playbooks/switchover.yml after --switch-at seconds, and prints: failed transactions, aborted clients, the
longest transaction latency (the longest pause a client saw), tps before/during/after the playbook, and the
pause the modules measured. Load stops by itself after --seconds. Traffic goes only to the given containers.

    # the lab (inventories/lab; PgBouncer on app1), once it has postgresql_switchover_password:
    .venv/bin/python tests/benchmarks/switchover.py --password "$SHOP_DB_PASSWORD"
    # the molecule/postgresql instances (after `molecule converge -s postgresql`; molecule prints the
    # inventory path, /root/.ansible/tmp/molecule.<id>.postgresql/inventory):
    .venv/bin/python tests/benchmarks/switchover.py --container molecule-pg-app \\
        --inventory /root/.ansible/tmp/molecule.<id>.postgresql/inventory --password molecule-shop-secret-000
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from labload import PGBENCH, PSQL, REPO, ansible_playbook, container_pid, in_netns, require_tools

PROGRESS_RE = re.compile(r"progress: ([\d.]+) s, ([\d.]+) tps")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inventory", default=str(REPO / "inventories" / "lab"), help="inventory for switchover.yml")
    parser.add_argument("--container", default="lab-app1", help="container of a PgBouncer host (its network is used)")
    parser.add_argument("--user", default="shop", help="database user pgbench logs in as through PgBouncer")
    parser.add_argument("--password", default=os.environ.get("PGPASSWORD", ""), help="its password (or PGPASSWORD)")
    parser.add_argument("--database", default="shop", help="PgBouncer database to write to")
    parser.add_argument("--seconds", type=int, default=90, help="length of the load (at most 300)")
    parser.add_argument("--switch-at", type=int, default=10, help="seconds of load before the playbook starts")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rate", type=int, default=0, help="pgbench -R (0: as fast as possible)")
    parser.add_argument("--target", default="", help="switchover_target (default: the best standby)")
    args = parser.parse_args()
    if not 10 <= args.seconds <= 300 or not 0 < args.switch_at < args.seconds:
        parser.error("need 10 <= --seconds <= 300 and 0 < --switch-at < --seconds")
    if not args.password:
        parser.error("give the database password with --password or PGPASSWORD")
    return args


def main():
    args = parse_args()
    require_tools(PGBENCH, PSQL, "nsenter", "podman")
    pid = container_pid(args.container)
    env = dict(os.environ, PGPASSWORD=args.password, PGCONNECT_TIMEOUT="5")
    work = Path(tempfile.mkdtemp(prefix="switchover-bench-"))
    conn = ["-h", "127.0.0.1", "-p", "6432", "-U", args.user, "-d", args.database]

    setup = "CREATE TABLE IF NOT EXISTS switchover_bench (id bigserial PRIMARY KEY, client int, at timestamptz)"
    subprocess.run(in_netns(pid, [PSQL, "-XAtq", "-v", "ON_ERROR_STOP=1", *conn, "-c", setup]), env=env, check=True)
    script = work / "insert.sql"
    script.write_text("INSERT INTO switchover_bench (client) VALUES (:client_id);\n")

    bench = [PGBENCH, "-n", "-P", "1", "-l", "--log-prefix", str(work / "tx"), "-c", str(args.clients)]
    bench += ["-j", str(min(args.clients, 4)), "-T", str(args.seconds), "-f", str(script)]
    if args.rate:
        bench += ["-R", str(args.rate)]
    bench += ["-h", "127.0.0.1", "-p", "6432", "-U", args.user, args.database]
    started = time.time()
    load = subprocess.Popen(in_netns(pid, bench), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    time.sleep(args.switch_at)
    play = [str(REPO / "playbooks" / "switchover.yml")]
    if args.target:
        play += ["-e", f"switchover_target={args.target}"]
    play_start = time.time()
    playbook = ansible_playbook(*play, inventory=args.inventory, timeout=280)
    play_end = time.time()
    (work / "playbook.log").write_text(playbook.stdout + playbook.stderr)

    try:
        out, err = load.communicate(timeout=args.seconds + 60)
    except subprocess.TimeoutExpired:
        load.kill()
        out, err = load.communicate()

    # Per-transaction log: client_id tx_no latency_us script_no epoch_s epoch_us [lag]
    latencies, failed_in_log = [], 0
    for path in work.glob("tx*"):
        for line in path.read_text().splitlines():
            fields = line.split()
            if len(fields) < 6:
                continue
            if not fields[2].isdigit():
                failed_in_log += 1
                continue
            latencies.append((int(fields[2]), int(fields[4]) + int(fields[5]) / 1e6))
    latencies.sort(reverse=True)

    phases = {"before": [], "during": [], "after": []}
    for match in PROGRESS_RE.finditer(err + out):
        at = started + float(match.group(1))
        phase = "before" if at <= play_start else "during" if at <= play_end + 1 else "after"
        phases[phase].append(float(match.group(2)))

    processed = re.search(r"actually processed: (\d+)", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    pauses = [" ".join(m.split()) for m in re.findall(r'"pause_ms": \{([^}]*)\}', playbook.stdout)]
    promote = [" ".join(m.split()) for m in re.findall(r'"promote_timings_ms": \{([^}]*)\}', playbook.stdout)]

    def mean(values):
        return f"{statistics.mean(values):.0f}" if values else "n/a"

    took = play_end - play_start
    print(f"playbook:                 rc={playbook.returncode}, {took:.1f} s (log: {work}/playbook.log)")
    print(f"pgbench:                  rc={load.returncode}, {args.clients} clients, {args.seconds} s")
    print(f"transactions processed:   {processed.group(1) if processed else 'n/a'}")
    print(f"failed transactions:      {failed.group(1) if failed else 'n/a'} (log: {failed_in_log} not completed)")
    print(f"aborted clients:          {'yes' if 'aborted' in err + out else 'none'}")
    worst = ", ".join(f"{lat / 1000:.0f} ms at {at - play_start:+.1f} s" for lat, at in latencies[:3]) or "n/a"
    print(f"longest transactions:     {worst} (from the playbook start)")
    print(f"tps before/during/after:  {mean(phases['before'])} / {mean(phases['during'])} / {mean(phases['after'])}")
    print(f"lowest 1-s tps during:    {min(phases['during']) if phases['during'] else 'n/a'}")
    print(f"pause (modules), ms:      {'; '.join(pauses) or 'n/a'}")
    print(f"promotion timings, ms:    {'; '.join(promote) or 'n/a'}")
    if playbook.returncode != 0:
        print(playbook.stdout[-3000:])
    return 0 if playbook.returncode == 0 and load.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
