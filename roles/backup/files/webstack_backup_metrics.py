"""Backup freshness for Prometheus (opsforge.webstack.backup), run as root by webstack-backup-metrics.service.

Reads the stanza with `pgbackrest info` and pg_stat_archiver with psql (both as postgres), decides the
freshness with the collection's own code (plugins/module_utils/pgbackrest.py, installed beside this file,
the same the pgbackrest_info module runs) and writes it atomically for the node exporter's textfile
collector. A failure to read is a metric (webstack_backup_metrics_up 0), never a missing file.

Usage: webstack_backup_metrics.py STANZA PORT TEXTFILE
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


def run(command):
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()[:300]
        raise RuntimeError(f"{' '.join(command)}: exit {result.returncode}: {detail}")
    return result.stdout


def read_archiver(port):
    """pg_stat_archiver as freshness() takes it, with the WAL position as an integer (PostgreSQL converts it)."""
    sql = f"SELECT row_to_json(a), pg_wal_lsn_diff(a.current_lsn::pg_lsn, '0/0')::bigint FROM ({pgb.ARCHIVER_SQL}) a"
    out = run([*AS_POSTGRES, "psql", "-p", str(port), "-XAtq", "-F", "\t", "-d", "postgres", "-c", sql])
    row_json, _tab, lsn = out.strip().partition("\t")
    row = json.loads(row_json)
    for key in ("last_archived_time", "last_failed_time"):
        row[key] = datetime.fromisoformat(row[key]) if row[key] else None
    row["current_lsn"] = int(lsn) if lsn else None
    return row


def collect(stanza, port, now):
    """(metrics text, whether everything could be read).

    When pgBackRest cannot read the repository (the object store down, say), the archive's state from
    pg_stat_archiver is still written beside the error, without a backup age.
    """
    failures = (RuntimeError, ValueError, OSError, subprocess.TimeoutExpired)
    try:
        archiver = read_archiver(port)
    except failures as exc:
        print(f"webstack-backup-metrics: {exc}", file=sys.stderr)
        return pgb.textfile_metrics(stanza, None, None, now, error=str(exc)), False
    if archiver["in_recovery"]:
        return pgb.textfile_metrics(stanza, None, archiver, now), True
    summary = error = None
    try:
        data = pgb.load_info(run([*AS_POSTGRES, "pgbackrest", f"--stanza={stanza}", "--output=json", "info"]))
        found = pgb.find_stanza(data, stanza)
        if found is None:
            raise RuntimeError(f"pgbackrest info did not list stanza {stanza!r}")
        summary = pgb.stanza_summary(found)
        problem = pgb.explain_status(summary, stanza)
        if problem:
            raise RuntimeError(problem)
    except failures as exc:
        print(f"webstack-backup-metrics: {exc}", file=sys.stderr)
        summary, error = None, str(exc)
    facts, _problems = pgb.freshness(summary, archiver, now, stanza_name=stanza)
    return pgb.textfile_metrics(stanza, facts, archiver, now, error=error), error is None


def write_atomically(path, text):
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".webstack_backup.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 4:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    stanza, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    text, ok = collect(stanza, port, datetime.now(timezone.utc))
    write_atomically(path, text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
