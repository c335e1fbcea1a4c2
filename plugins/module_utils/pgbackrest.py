# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""pgBackRest `info --output=json` parsing and the freshness decision, as plain functions."""

import json
from datetime import datetime, timezone

# status.code in `pgbackrest info` (2.45): 0 ok, 1 missing stanza path, 2 no valid backups,
# 3 missing stanza data, 4 different cipher, 5 database mismatch, 6 backup/expire running, 99 other.
STATUS_OK, STATUS_NO_BACKUP = 0, 2

WAL_SEGMENT_SIZE = 16 * 1024 * 1024

# `pgbackrest info` against a store it cannot reach (2.45, measured): the socket connect, the TLS open and the HTTP
# request each retry until io-timeout has passed, then once more, nested. A refused connection or a store that
# accepts and never answers costs 4 x io-timeout, one that drops connection attempts (a black hole) 8 x. Neither
# protocol-timeout (info starts no other process) nor db-timeout (not an info option) bounds it.
INFO_IO_TIMEOUT_ROUNDS = 8

# pg_stat_archiver and the server's WAL position: what freshness() reads (pgbackrest_info and the backup role's
# webstack_backup_metrics.py both run it).
ARCHIVER_SQL = """
SELECT archived_count, last_archived_wal, last_archived_time, failed_count, last_failed_wal, last_failed_time,
       pg_is_in_recovery() AS in_recovery,
       CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS current_lsn,
       (SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size') AS wal_segment_size
FROM pg_stat_archiver
"""


def load_info(text):
    """Parse `info --output=json` output. pgBackRest copies raw bytes of an unreadable (wrongly decrypted)
    file into its error message, so control characters are allowed in strings. Raises ValueError."""
    data = json.loads(text, strict=False)
    if not isinstance(data, list):
        raise ValueError("pgbackrest info did not print a JSON list")
    return data


def info_timeout(io_timeout):
    """Outer bound, in seconds, of `pgbackrest info --io-timeout=<io_timeout>`: its worst case and start-up slack."""
    return INFO_IO_TIMEOUT_ROUNDS * io_timeout + 10


def epoch_to_iso(value):
    if value is None:
        return None
    return datetime.fromtimestamp(value, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def stanza_summary(stanza):
    """The parts of one stanza's info that the module returns."""
    backups = []
    for backup in stanza.get("backup", []):
        stamps = backup.get("timestamp", {})
        archive = backup.get("archive") or {}
        info = backup.get("info", {})
        backups.append(
            {
                "label": backup.get("label"),
                "type": backup.get("type"),
                "prior": backup.get("prior"),
                "error": bool(backup.get("error")),
                "start": epoch_to_iso(stamps.get("start")),
                "stop": epoch_to_iso(stamps.get("stop")),
                "start_epoch": stamps.get("start"),
                "stop_epoch": stamps.get("stop"),
                "wal_start": archive.get("start"),
                "wal_stop": archive.get("stop"),
                "size": info.get("size"),
                "delta": info.get("delta"),
                "repository_size": info.get("repository", {}).get("size"),
                "repository_delta": info.get("repository", {}).get("delta"),
            }
        )
    archives = [
        {"id": arch.get("id"), "min": arch.get("min"), "max": arch.get("max")} for arch in stanza.get("archive", [])
    ]
    status = stanza.get("status", {})
    repo_messages = [
        repo.get("status", {}).get("message")
        for repo in stanza.get("repo", [])
        if repo.get("status", {}).get("code") not in (STATUS_OK, STATUS_NO_BACKUP)
    ]
    return {
        "name": stanza.get("name"),
        "status_code": status.get("code"),
        "status_message": status.get("message"),
        "repo_errors": [message for message in repo_messages if message],
        "backup_running": bool(status.get("lock", {}).get("backup", {}).get("held")),
        "cipher": stanza.get("cipher"),
        "backups": backups,
        "archive": archives,
    }


def find_stanza(data, name):
    for stanza in data:
        if stanza.get("name") == name:
            return stanza
    return None


def explain_status(summary, stanza_name):
    """None when the repository could be read (status 0 or 2), else a message with what to do."""
    code = summary["status_code"]
    if code in (STATUS_OK, STATUS_NO_BACKUP):
        return None
    detail = "; ".join(summary["repo_errors"]) or summary["status_message"] or "unknown error"
    if code == 1:
        hint = (
            "the stanza was never created in this repository: "
            f"run `pgbackrest --stanza={stanza_name} stanza-create` on the primary"
        )
    elif "403" in detail or "SignatureDoesNotMatch" in detail or "InvalidAccessKeyId" in detail:
        hint = "the object store refused the credentials: check repo1-s3-key and repo1-s3-key-secret"
    elif "CryptoError" in detail and "certificate" in detail:
        hint = "the store's TLS certificate is not trusted: set repo1-storage-ca-file to the CA that signed it"
    elif "HostConnectError" in detail or "unable to connect" in detail:
        hint = "the object store cannot be reached: check repo1-s3-endpoint and that the store is running"
    elif "unable to load info file" in detail or code == 4:
        hint = "the repository cannot be decrypted: repo1-cipher-pass is not the one the stanza was created with"
    else:
        hint = f"see the message, and `pgbackrest --stanza={stanza_name} check`"
    detail = detail.splitlines()[0][:300]
    return (
        f"pgBackRest cannot read stanza {stanza_name!r} (status {code}: {summary['status_message']}): {detail}. "
        f"Likely cause: {hint}."
    )


def wal_segment_end(walfile, segment_size=WAL_SEGMENT_SIZE):
    """LSN (int) at which a WAL segment ends: '000000010000000000000013' -> 0x14000000 for 16 MiB segments."""
    log, seg = int(walfile[8:16], 16), int(walfile[16:24], 16)
    per_log = 0x100000000 // segment_size
    return (log * per_log + seg + 1) * segment_size


def freshness(summary, archiver, now, max_backup_age=None, max_archive_age=None, stanza_name=None):
    """Decide whether backups and archiving are fresh enough.

    summary: stanza_summary(), or None when the repository could not be read (then only the archive's facts,
    from PostgreSQL, are known); archiver: dict with last_archived_time (aware datetime or None),
    last_archived_wal, last_failed_time, last_failed_wal, failed_count, current_lsn (int or None),
    in_recovery; or None when PostgreSQL was not asked. now: aware datetime.
    Returns (facts, problems): facts a dict of ages, problems a list of messages (empty = fresh).
    """
    stanza_name = stanza_name or (summary or {}).get("name")
    facts = {
        "last_backup": None,
        "last_backup_age": None,
        "archive_age": None,
        "wal_pending_bytes": None,
        "archive_failing": None,
    }
    problems = []
    backups = summary["backups"] if summary else []
    good = [b for b in backups if b["type"] in ("full", "diff") and not b["error"] and b["stop_epoch"]]
    if good:
        newest = max(good, key=lambda b: b["stop_epoch"])
        facts["last_backup"] = newest["label"]
        facts["last_backup_age"] = int(now.timestamp() - newest["stop_epoch"])
    if max_backup_age is not None:
        if not good:
            problems.append(
                f"stanza {stanza_name!r} has no full or differential backup: run "
                f"`pgbackrest --stanza={stanza_name} --type=full backup` on the primary"
            )
        elif facts["last_backup_age"] > max_backup_age:
            problems.append(
                f"the newest full/diff backup {facts['last_backup']} finished {facts['last_backup_age']} s ago, "
                f"older than max_backup_age={max_backup_age} s: check the backup timers and their logs, then run "
                f"`pgbackrest --stanza={stanza_name} --type=diff backup` on the primary"
            )
    if archiver is None:
        return facts, problems
    if archiver.get("last_archived_time"):
        facts["archive_age"] = int((now - archiver["last_archived_time"]).total_seconds())
    segment = archiver.get("wal_segment_size") or WAL_SEGMENT_SIZE
    if archiver.get("last_archived_wal") and archiver.get("current_lsn") is not None:
        facts["wal_pending_bytes"] = max(
            0, archiver["current_lsn"] - wal_segment_end(archiver["last_archived_wal"], segment)
        )
    failing = bool(archiver.get("last_failed_time")) and (
        not archiver.get("last_archived_time") or archiver["last_failed_time"] > archiver["last_archived_time"]
    )
    facts["archive_failing"] = failing
    if max_archive_age is None or archiver.get("in_recovery"):
        return facts, problems
    failure = ""
    if archiver.get("failed_count"):
        failure = " pg_stat_archiver counts {} failures, the last for {} at {}.".format(
            archiver["failed_count"], archiver.get("last_failed_wal"), archiver.get("last_failed_time")
        )
    what_to_run = (
        " Read the PostgreSQL log for archive_command errors and run "
        f"`pgbackrest --stanza={stanza_name} check` on the primary."
    )
    if not archiver.get("last_archived_time"):
        problems.append("no WAL segment was ever archived." + failure + what_to_run)
    elif facts["archive_age"] > max_archive_age and (failing or facts["wal_pending_bytes"]):
        problems.append(
            f"the last WAL segment, {archiver['last_archived_wal']}, was archived {facts['archive_age']} s ago, "
            f"older than max_archive_age={max_archive_age} s, and {facts['wal_pending_bytes']} bytes of WAL "
            "written since are not in the repository." + failure + what_to_run
        )
    elif failing:
        problems.append(f"archiving is failing now.{failure}{what_to_run}")
    return facts, problems


def textfile_metrics(stanza_name, facts, archiver, now, error=None):
    """The backup freshness as Prometheus text for the node exporter's textfile collector.

    facts: freshness()'s facts; archiver: the pg_stat_archiver row freshness() read (None when PostgreSQL
    could not be read); error: what could not be read. The archive's state comes from PostgreSQL, not from
    the repository, so it is written whenever facts are given, with an error too: an object store that cannot
    be reached is when the archive alerts matter most. On a standby only whether this is the primary and the
    collection's own state are written: the primary exports the cluster's freshness, once.
    """
    escaped = stanza_name.replace("\\", "\\\\").replace('"', '\\"')
    label = f'{{stanza="{escaped}"}}'
    lines = []

    def gauge(name, help_text, value):
        if value is None:
            return
        lines.extend([f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name}{label} {float(value):.17g}"])

    primary = archiver is not None and not archiver.get("in_recovery")
    gauge("webstack_backup_metrics_up", "1 when pgBackRest and PostgreSQL could be read.", 0 if error else 1)
    gauge("webstack_backup_metrics_timestamp_seconds", "When these metrics were written.", int(now.timestamp()))
    gauge("webstack_backup_primary", "1 on the cluster's primary, which exports the freshness.", int(primary))
    if not primary or facts is None:
        return "\n".join(lines) + "\n"
    gauge(
        "webstack_backup_last_age_seconds",
        "Seconds since the newest full or differential backup finished (absent: none yet).",
        facts["last_backup_age"],
    )
    gauge(
        "webstack_backup_wal_archive_age_seconds",
        "Seconds since the last WAL segment was archived.",
        facts["archive_age"],
    )
    gauge(
        "webstack_backup_wal_pending_bytes",
        "WAL bytes written since the last archived segment.",
        facts["wal_pending_bytes"],
    )
    gauge(
        "webstack_backup_wal_archive_failing",
        "1 when pg_stat_archiver's last failure is newer than its last success.",
        int(bool(facts["archive_failing"])),
    )
    gauge("webstack_backup_wal_archive_failed_count", "pg_stat_archiver.failed_count.", archiver.get("failed_count"))
    return "\n".join(lines) + "\n"


def carried_backup_age(previous, now):
    """The newest backup's age at now from a textfile textfile_metrics() wrote before, or None (none written, or
    unreadable). Keeps webstack_backup_last_age_seconds continuous while the repository is being read again."""
    values = {}
    for line in previous.splitlines():
        name, _brace, rest = line.partition("{")
        if name in ("webstack_backup_last_age_seconds", "webstack_backup_metrics_timestamp_seconds"):
            try:
                values[name] = float(rest.rsplit(" ", 1)[-1])
            except ValueError:
                return None
    if len(values) != 2:
        return None
    stop = values["webstack_backup_metrics_timestamp_seconds"] - values["webstack_backup_last_age_seconds"]
    return int(now.timestamp() - stop)
