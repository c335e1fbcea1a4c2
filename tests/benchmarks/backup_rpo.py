# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark (not a test): the RPO of the WAL archive under continuous writes through PgBouncer.

pgbench writes through PgBouncer (run from the controller inside one PgBouncer host's network namespace, as
tests/benchmarks/switchover.py does) while the primary's pg_stat_archiver and WAL position are sampled every
second. For each sample it prints two ages:

- archived-WAL age: now - last_archived_time, how long ago the archive last took a segment;
- data at risk: how far back the oldest write not yet in the archive goes, that is now - the last sample
  whose WAL position was still inside the newest archived segment (0 when nothing was written past it).
  This is what a lost primary would cost, the RPO at that moment.

and their median, p99 and maximum, against the target (max <= 60 s, archive_timeout is 60 s).

    .venv/bin/python tests/benchmarks/backup_rpo.py --password lab-shop-db-password-0001 [--seconds 300]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from labload import PGBENCH, PSQL, as_postgres, container_pid, in_netns, primary, require_tools

SAMPLE_SQL = """SELECT extract(epoch FROM clock_timestamp()), pg_current_wal_lsn() - '0/0'::pg_lsn,
       coalesce(last_archived_wal, '-'), coalesce(extract(epoch FROM last_archived_time), 0), failed_count
  FROM pg_stat_archiver \\watch {interval}
"""
TARGET_SECONDS = 60


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--container", default="lab-app1", help="container of a PgBouncer host (its network is used)")
    parser.add_argument("--user", default="shop", help="database user pgbench logs in as through PgBouncer")
    parser.add_argument("--password", default=os.environ.get("PGPASSWORD", ""), help="its password (or PGPASSWORD)")
    parser.add_argument("--database", default="shop", help="PgBouncer database to write to")
    parser.add_argument("--seconds", type=int, default=300, help="length of the load")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rate", type=int, default=0, help="pgbench -R (0: as fast as possible)")
    args = parser.parse_args()
    if not args.password:
        parser.error("give the database password with --password or PGPASSWORD")
    if args.seconds < 30:
        parser.error("--seconds must be at least 30")
    return args


def segment_end(name, segment_size):
    """The WAL position just past an archived segment, or None for a history or partial file."""
    if len(name) != 24 or not all(c in "0123456789ABCDEF" for c in name):
        return None
    log, seg = int(name[8:16], 16), int(name[16:24], 16)
    return log * 2**32 + (seg + 1) * segment_size


def at_risk_ages(samples, segment_size):
    """For each sample, seconds back to the oldest write not yet archived (None until the first segment)."""
    ages, boundary = [], None
    for index, (at, lsn, archived, _archived_at, _failed) in enumerate(samples):
        boundary = segment_end(archived, segment_size) or boundary
        if boundary is None:
            ages.append(None)
        elif lsn <= boundary:
            ages.append(0.0)
        else:
            safe = next((s[0] for s in reversed(samples[:index]) if s[1] <= boundary), samples[0][0])
            ages.append(at - safe)
    return ages


def summary(values):
    values = sorted(v for v in values if v is not None)
    if not values:
        return "n/a"
    p99 = values[min(len(values) - 1, round(0.99 * (len(values) - 1)))]
    return f"median {statistics.median(values):.1f} s, p99 {p99:.1f} s, max {values[-1]:.1f} s"


def main():
    args = parse_args()
    require_tools(PGBENCH, PSQL, "nsenter", "podman")
    host = primary()
    segment_size = int(as_postgres(host, "SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'"))
    timeout = as_postgres(host, "SHOW archive_timeout")
    pid = container_pid(args.container)
    env = dict(os.environ, PGPASSWORD=args.password, PGCONNECT_TIMEOUT="5")
    conn = ["-h", "127.0.0.1", "-p", "6432", "-U", args.user, "-d", args.database]
    setup = "CREATE TABLE IF NOT EXISTS rpo_bench (id bigserial PRIMARY KEY, client int, at timestamptz, note text)"
    subprocess.run(in_netns(pid, [PSQL, "-XAtq", "-v", "ON_ERROR_STOP=1", *conn, "-c", setup]), env=env, check=True)

    samples = []
    sampler = subprocess.Popen(
        ["podman", "exec", "-i", f"lab-{host}", "runuser", "-u", "postgres", "--", "psql", "-XAtq", "-F", " "],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    sampler.stdin.write(SAMPLE_SQL.format(interval=1))
    sampler.stdin.flush()

    def read_samples():
        for line in sampler.stdout:
            fields = line.split()
            if len(fields) == 5:
                samples.append((float(fields[0]), int(fields[1]), fields[2], float(fields[3]), int(fields[4])))

    reader = threading.Thread(target=read_samples, daemon=True)
    reader.start()
    time.sleep(3)

    work = Path(tempfile.mkdtemp(prefix="rpo-bench-"))
    script = work / "insert.sql"
    script.write_text("INSERT INTO rpo_bench (client, at, note) VALUES (:client_id, now(), repeat('x', 200));\n")
    bench = [PGBENCH, "-n", "-c", str(args.clients), "-j", str(min(args.clients, 4)), "-T", str(args.seconds)]
    bench += ["-f", str(script), *(["-R", str(args.rate)] if args.rate else []), *conn[:-2], args.database]
    load = subprocess.run(in_netns(pid, bench), env=env, capture_output=True, text=True, check=False)
    sampler.terminate()
    reader.join(timeout=5)
    as_postgres(host, "DROP TABLE IF EXISTS rpo_bench", database=args.database)

    loaded = [s for s in samples if s[0] >= samples[0][0] + 3] if samples else []
    archived_ages = [s[0] - s[3] for s in loaded if s[3] > 0]
    risk = at_risk_ages(samples, segment_size)[-len(loaded) :] if loaded else []
    written = (loaded[-1][1] - loaded[0][1]) / 2**20 if len(loaded) > 1 else 0
    failed = loaded[-1][4] - loaded[0][4] if loaded else 0
    worst = max([r for r in risk if r is not None] + archived_ages, default=None)
    processed = next((line for line in load.stdout.splitlines() if "actually processed" in line), "n/a")

    print(f"primary:                  {host}, archive_timeout {timeout}, WAL segments of {segment_size // 2**20} MB")
    print(f"pgbench:                  rc={load.returncode}, {args.clients} clients, {args.seconds} s")
    print(f"transactions:             {processed.strip()}")
    print(f"samples:                  {len(loaded)} (one a second)")
    print(f"WAL written:              {written:.0f} MB ({written / max(args.seconds, 1):.1f} MB/s)")
    print(f"archive failures:         {failed}")
    print(f"archived-WAL age:         {summary(archived_ages)}")
    print(f"data at risk (RPO):       {summary(risk)}")
    verdict = "met" if worst is not None and worst <= TARGET_SECONDS else "BREACHED"
    print(f"target, both max <= {TARGET_SECONDS} s: {verdict}")
    if load.returncode != 0:
        print(load.stderr[-2000:])
    return 0 if load.returncode == 0 and verdict == "met" else 1


if __name__ == "__main__":
    sys.exit(main())
