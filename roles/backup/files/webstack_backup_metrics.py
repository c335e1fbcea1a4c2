"""Backup freshness for Prometheus (opsforge.webstack.backup), run as root by webstack-backup-metrics.service.

Reads pg_stat_archiver with psql and the stanza with `pgbackrest info` (both as postgres), decides the freshness
with the collection's own code (plugins/module_utils/pgbackrest.py, installed beside this file, the same the
pgbackrest_info module runs) and writes it atomically for the node exporter's textfile collector. A failure to
read is a metric (webstack_backup_metrics_up 0), never a missing file.

The archive's state is written before pgBackRest is asked: against an unreachable object store, exactly when the
archive alerts matter, `pgbackrest info` takes up to 8 x IO_TIMEOUT seconds (pgBackRest's --io-timeout).

Usage: webstack_backup_metrics.py STANZA PORT TEXTFILE IO_TIMEOUT
"""

import json
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pgbackrest as pgb

AS_POSTGRES = ["runuser", "-u", "postgres", "--"]
PSQL_TIMEOUT = 15  # seconds; PostgreSQL is local
FAILURES = (RuntimeError, ValueError, OSError, subprocess.TimeoutExpired)
NOT_READ_YET = "the repository is being read"


def run(command, timeout):
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()[:300]
        raise RuntimeError(f"{' '.join(command)}: exit {result.returncode}: {detail}")
    return result.stdout


def read_archiver(port):
    """pg_stat_archiver as freshness() takes it, with the WAL position as an integer (PostgreSQL converts it)."""
    sql = f"SELECT row_to_json(a), pg_wal_lsn_diff(a.current_lsn::pg_lsn, '0/0')::bigint FROM ({pgb.ARCHIVER_SQL}) a"
    out = run([*AS_POSTGRES, "psql", "-p", str(port), "-XAtq", "-F", "\t", "-d", "postgres", "-c", sql], PSQL_TIMEOUT)
    row_json, _tab, lsn = out.strip().partition("\t")
    row = json.loads(row_json)
    for key in ("last_archived_time", "last_failed_time"):
        row[key] = datetime.fromisoformat(row[key]) if row[key] else None
    row["current_lsn"] = int(lsn) if lsn else None
    return row


def read_summary(stanza, io_timeout):
    """stanza_summary() of `pgbackrest info`. --io-timeout bounds pgBackRest's own retries against a store it cannot
    reach (on the command line, above any io-timeout in pgbackrest.conf); the subprocess timeout is the outer bound."""
    command = [*AS_POSTGRES, "pgbackrest", f"--stanza={stanza}", f"--io-timeout={io_timeout}", "--output=json", "info"]
    found = pgb.find_stanza(pgb.load_info(run(command, pgb.info_timeout(io_timeout))), stanza)
    if found is None:
        raise RuntimeError(f"pgbackrest info did not list stanza {stanza!r}")
    summary = pgb.stanza_summary(found)
    problem = pgb.explain_status(summary, stanza)
    if problem:
        raise RuntimeError(problem)
    return summary


def previous_text(path):
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""


def write_atomically(path, text):
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".webstack_backup.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 5:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    stanza, port, path, io_timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    now = datetime.now(timezone.utc)
    try:
        archiver = read_archiver(port)
    except FAILURES as exc:
        print(f"webstack-backup-metrics: {exc}", file=sys.stderr)
        write_atomically(path, pgb.textfile_metrics(stanza, None, None, now, error=str(exc)))
        return 1
    if archiver["in_recovery"]:
        write_atomically(path, pgb.textfile_metrics(stanza, None, archiver, now))
        return 0
    # The archive's state now, the repository's after: with the last run's backup age carried, so that the
    # backup alerts do not see the series vanish while pgBackRest reads.
    facts, _problems = pgb.freshness(None, archiver, now, stanza_name=stanza)
    facts["last_backup_age"] = pgb.carried_backup_age(previous_text(path), now)
    write_atomically(path, pgb.textfile_metrics(stanza, facts, archiver, now, error=NOT_READ_YET))
    summary = error = None
    try:
        summary = read_summary(stanza, io_timeout)
    except FAILURES as exc:
        print(f"webstack-backup-metrics: {exc}", file=sys.stderr)
        error = str(exc)
    facts, _problems = pgb.freshness(summary, archiver, now, stanza_name=stanza)
    write_atomically(path, pgb.textfile_metrics(stanza, facts, archiver, now, error=error))
    return 0 if error is None else 1


if __name__ == "__main__":
    sys.exit(main())
