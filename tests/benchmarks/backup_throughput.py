# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark (not a test): backup and restore of a database of at least 1 GB, the physical path of this
collection (pgBackRest to S3) beside the runbooks' own method (pg_dump | gzip | upload), in one run.

On the lab's current primary it creates the database bench_1g with pgbench at --scale (70: about 1 GB; its
pgbench_accounts is one 940 MB file, or --partitions files of its range partitions), waits until its WAL is
archived, then times:

1. physical backup: a CHECKPOINT (timed on its own: the bulk load left its pages dirty), then
   `pgbackrest --type=full backup` on the primary (zst, encrypted, to the lab's object store);
2. logical backup: `pg_dump bench_1g | gzip | upload` on the primary (boto3 in the backup role's virtualenv,
   streamed, nothing on disk);
3. physical restore, as restore.yml runs it, into an emptied data directory on drill1 (the emptying not timed):
   pgbackrest restore, start, WAL replay to the end of the archive, until the copy accepts writes;
4. logical restore: download | gunzip | psql into a new database on drill1 (its creation not timed; the stream
   passes through the controller, drill1 has no S3 client), indexes and constraints rebuilt by the SQL;

each --runs times, the two paths alternated (on a 2-core lab one run of a few seconds moves with whatever else
the machine does: the medians are compared, the ranges printed beside them); once, a differential backup after
20 s of pgbench writes (what the daily timer makes) and playbooks/restore.yml onto drill1 as a whole (Ansible
included). It prints time and size for each and the ratio of the two paths' medians, drops bench_1g and the
uploaded dump at the end; the full backups stay in the repository (retention removes them).

    .venv/bin/python tests/benchmarks/backup_throughput.py [--scale 70] [--partitions 0] [--runs 3]

pgBackRest copies each file in one process (process-max processes, files largest first), so where there are more
cores than the lab's two, one table in one file bounds a backup by that file's copy; --partitions spreads the same
rows over several tables (pgbench's own range partitioning), as a database of many tables spreads them. pg_dump's
path is one stream either way.
"""

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import time

from labload import ansible_playbook, as_postgres, cpu_seconds, lab_cgroups, on_host, pg_version, primary

DATABASE = "bench_1g"
DUMP_KEY = "benchmarks/bench_1g.sql.gz"
S3_CLIENT = """
import json, sys, boto3, botocore.config
s = json.load(open('/etc/pgbackrest/webstack-logical.json'))['s3']
client = boto3.client('s3', endpoint_url=s['endpoint_url'], region_name=s['region'],
    aws_access_key_id=s['access_key'], aws_secret_access_key=s['secret_key'], verify=s.get('ca_bundle') or True,
    config=botocore.config.Config(request_checksum_calculation='when_required',
        response_checksum_validation='when_required', s3={'addressing_style': s['addressing_style']}))
action, key = sys.argv[1], sys.argv[2]
if action == 'put':
    client.upload_fileobj(sys.stdin.buffer, s['bucket'], key)
    print(client.head_object(Bucket=s['bucket'], Key=key)['ContentLength'])
elif action == 'get':
    client.download_fileobj(s['bucket'], key, sys.stdout.buffer)
else:
    client.delete_object(Bucket=s['bucket'], Key=key)
"""
PYTHON = "/opt/webstack-backup/bin/python"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=70, help="pgbench scale of the database (70: about 1 GB)")
    parser.add_argument(
        "--partitions", type=int, default=0, help="range partitions of pgbench_accounts (0: one table, one file)"
    )
    parser.add_argument("--scratch", default="drill1", help="the host both restores go to (group drill)")
    parser.add_argument("--runs", type=int, default=3, help="times each backup and restore is measured")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error(f"--runs must be 1 or more, not {args.runs}")
    if args.partitions < 0:
        parser.error(f"--partitions must be 0 (none) or more, not {args.partitions}")
    return args


def timed_with_result(what, action):
    print(f"... {what}", flush=True)
    start = time.monotonic()
    result = action()
    return time.monotonic() - start, result


def timed(what, action):
    return timed_with_result(what, action)[0]


def s3_command(action, key):
    return f"{PYTHON} -c {shlex.quote(S3_CLIENT)} {action} {key}"


def wait_archived(host):
    segment = as_postgres(host, "SELECT pg_walfile_name(pg_current_wal_lsn())")
    as_postgres(host, "SELECT pg_switch_wal()")
    deadline = time.monotonic() + 600
    while as_postgres(host, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver") < segment:
        if time.monotonic() > deadline:
            sys.exit(f"{host} did not archive {segment} within 10 minutes")
        time.sleep(2)


def newest_backup(host):
    info = json.loads(on_host(host, "runuser -u postgres -- pgbackrest --stanza=webstack --output=json info"))
    backup = info[0]["backup"][-1]
    return backup["label"], backup["info"]["size"], backup["info"]["repository"]["delta"]


def empty_data_directory(host):
    """The scratch host's server stopped and its data directory emptied, as restore.yml leaves them for the restore."""
    version = pg_version(host)
    on_host(
        host, f"systemctl stop postgresql@{version}-main && find /var/lib/postgresql/{version}/main -mindepth 1 -delete"
    )


def restore_into_empty(host):
    version = pg_version(host)
    on_host(host, "runuser -u postgres -- pgbackrest --stanza=webstack --archive-mode=off restore")
    on_host(host, f"systemctl start postgresql@{version}-main")
    deadline = time.monotonic() + 600
    while on_host(host, "runuser -u postgres -- psql -XAtqc 'SELECT pg_is_in_recovery()'", check=False) != "f":
        if time.monotonic() > deadline:
            sys.exit(f"the copy on {host} did not accept writes within 10 minutes")
        time.sleep(0.2)


def mb(size):
    return f"{size / 2**20:,.0f} MB"


class Runs:
    """One step's runs: the wall time of each, and the CPU time the lab's containers used meanwhile (all of them,
    the background included: about 0.06 CPU-s a second on a quiet lab)."""

    def __init__(self, cgroups):
        self.cgroups = cgroups
        self.seconds = []
        self.cpu = []

    def measure(self, what, action):
        before = cpu_seconds(self.cgroups)
        seconds, result = timed_with_result(what, action)
        self.cpu.append(cpu_seconds(self.cgroups) - before)
        self.seconds.append(seconds)
        return result

    def median(self):
        return statistics.median(self.seconds)

    def spread(self):
        """The median wall time, the range when there are several runs, and the median CPU time."""
        runs = "" if len(self.seconds) == 1 else f" ({min(self.seconds):.1f}-{max(self.seconds):.1f})"
        return f"{self.median():.1f}s{runs} {statistics.median(self.cpu):.1f} CPU-s"


def main():
    args = parse_args()
    host = primary()
    as_postgres(host, f"DROP DATABASE IF EXISTS {DATABASE}")
    as_postgres(host, f"CREATE DATABASE {DATABASE}")
    pgbench = f"/usr/lib/postgresql/{pg_version(host)}/bin/pgbench"
    seconds = timed(
        f"pgbench -i -s {args.scale} --partitions {args.partitions} on {host}",
        lambda: on_host(
            host,
            f"runuser -u postgres -- {pgbench} -i -q -s {args.scale} --partitions {args.partitions} {DATABASE}",
        ),
    )
    size = int(as_postgres(host, f"SELECT pg_database_size('{DATABASE}')"))
    print(f"    {DATABASE}: {mb(size)} in {seconds:.0f} s; waiting until its WAL is archived", flush=True)
    wait_archived(host)

    # A bulk load leaves its pages dirty, and the backup's first step is a checkpoint (start-fast): timed on its own,
    # so the backup is measured as it runs on a database in service, where checkpoints keep the dirty pages few.
    checkpoint_s = timed("CHECKPOINT after the bulk load", lambda: as_postgres(host, "CHECKPOINT"))
    pipeline = f"pg_dump -d {DATABASE} | gzip | {s3_command('put', DUMP_KEY)}"
    cgroups = lab_cgroups()
    full, dump = Runs(cgroups), Runs(cgroups)
    for run in range(1, args.runs + 1):
        as_postgres(host, "CHECKPOINT")
        full.measure(
            f"physical backup (pgbackrest full), run {run}",
            lambda: on_host(host, "runuser -u postgres -- pgbackrest --stanza=webstack --type=full backup"),
        )
        uploaded = dump.measure(
            f"logical backup (pg_dump | gzip | upload), run {run}",
            lambda: on_host(host, f"runuser -u postgres -- bash -o pipefail -c {shlex.quote(pipeline)}"),
        )
    label, cluster_size, stored = newest_backup(host)
    on_host(
        host,
        f"runuser -u postgres -- {pgbench} -n -T 20 -c 4 {DATABASE} >/dev/null",
    )
    diff_s = timed(
        "physical differential backup after 20 s of pgbench writes (the daily schedule's kind)",
        lambda: on_host(host, "runuser -u postgres -- pgbackrest --stanza=webstack --type=diff backup"),
    )
    diff_stored = newest_backup(host)[2]
    playbook_s, play = timed_with_result(
        f"physical restore (playbooks/restore.yml onto {args.scratch})",
        lambda: ansible_playbook("playbooks/restore.yml", "-e", f"restore_host={args.scratch}", timeout=1800),
    )
    if play.returncode != 0:
        sys.exit(f"restore.yml failed:\n{play.stdout[-3000:]}")

    def logical_restore():
        download = subprocess.Popen(
            [
                "podman",
                "exec",
                f"lab-{host}",
                "runuser",
                "-u",
                "postgres",
                "--",
                "sh",
                "-c",
                s3_command("get", DUMP_KEY),
            ],
            stdout=subprocess.PIPE,
        )
        load = subprocess.run(
            [
                "podman",
                "exec",
                "-i",
                f"lab-{args.scratch}",
                "runuser",
                "-u",
                "postgres",
                "--",
                "bash",
                "-o",
                "pipefail",
                "-c",
                f"gunzip | psql -XAtq -v ON_ERROR_STOP=1 -d {DATABASE}_logical >/dev/null",
            ],
            stdin=download.stdout,
            check=False,
        )
        download.stdout.close()
        if download.wait() != 0 or load.returncode != 0:
            sys.exit("the logical restore failed")

    restore, load = Runs(cgroups), Runs(cgroups)
    for run in range(1, args.runs + 1):
        # Preparing either target is not timed: stopping and emptying the scratch copy here, dropping and creating
        # the database the dump loads into below.
        empty_data_directory(args.scratch)
        restore.measure(
            f"physical restore proper (pgbackrest restore into an empty data directory, recovery), run {run}",
            lambda: restore_into_empty(args.scratch),
        )
        as_postgres(args.scratch, f"DROP DATABASE IF EXISTS {DATABASE}_logical")
        as_postgres(args.scratch, f"CREATE DATABASE {DATABASE}_logical")
        load.measure(f"logical restore (download | gunzip | psql on {args.scratch}), run {run}", logical_restore)
    restored = as_postgres(args.scratch, "SELECT count(*) FROM pgbench_accounts", database=f"{DATABASE}_logical")

    on_host(host, f"runuser -u postgres -- sh -c {shlex.quote(s3_command('delete', DUMP_KEY))}")
    as_postgres(args.scratch, f"DROP DATABASE {DATABASE}_logical")
    as_postgres(host, f"DROP DATABASE {DATABASE}")

    print()
    layout = f"{args.partitions} partitions" if args.partitions else "one table"
    print(f"database {DATABASE}: {mb(size)} (pgbench scale {args.scale}, pgbench_accounts {layout});", end=" ")
    print(f"the whole cluster {mb(cluster_size)}")
    print(f"runs: {args.runs}, the paths alternated; median wall time (range), median CPU time of the lab's containers")
    print(f"{'':34}{'backup':>26}{'stored':>10}{'restore':>30}")
    print(f"{'physical (pgBackRest full, zst)':34}{full.spread():>26}{mb(stored):>10}{restore.spread():>30}")
    print(f"{'logical (pg_dump | gzip | upload)':34}{dump.spread():>26}{mb(int(uploaded)):>10}{load.spread():>30}")
    print(f"{'physical differential (daily)':34}{diff_s:>25.1f}s{mb(diff_stored):>10}")
    backup_ratio = dump.median() / full.median()
    restore_ratio = load.median() / restore.median()
    print(f"{'physical faster by (medians):':34}{backup_ratio:>25.1f}x{'':10}{restore_ratio:>29.1f}x")
    print(f"the checkpoint after the bulk load, before the first full backup: {checkpoint_s:.1f} s")
    print(f"restore.yml end to end, Ansible included: {playbook_s:.0f} s")
    print(f"backup {label}; {restored} rows in pgbench_accounts after the logical restore")
    return 0


if __name__ == "__main__":
    sys.exit(main())
