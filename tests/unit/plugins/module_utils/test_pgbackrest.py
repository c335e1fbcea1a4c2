# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from ansible_collections.opsforge.webstack.plugins.module_utils import pgbackrest as pgb

# `pgbackrest --stanza=lab info --output=json` of a real 2.45 run (docs/object-store.md)
INFO_OK = (Path(__file__).parent / "fixtures" / "pgbackrest_info_ok.json").read_text()
STOP = 1796278430  # the fixture's full backup finished then
AT_STOP = datetime.fromtimestamp(STOP, tz=timezone.utc)


def repo_error(code, message):
    return json.dumps(
        [
            {
                "archive": [],
                "backup": [],
                "cipher": "aes-256-cbc",
                "db": [],
                "name": "lab",
                "repo": [{"key": 1, "status": {"code": code, "message": message}}],
                "status": {"code": code, "lock": {"backup": {"held": False}}, "message": "other"},
            }
        ]
    )


def summary(text=INFO_OK):
    return pgb.stanza_summary(pgb.find_stanza(pgb.load_info(text), "lab"))


def test_summary_of_a_real_info():
    result = summary()
    assert result["status_code"] == 0 and result["cipher"] == "aes-256-cbc" and result["repo_errors"] == []
    assert result["archive"] == [{"id": "15-1", "min": "000000010000000000000001", "max": "000000010000000000000013"}]
    (backup,) = result["backups"]
    assert backup["label"] == "20261203-061349F" and backup["type"] == "full"
    assert backup["start"] == "2026-12-03T06:13:49Z" and backup["stop"] == "2026-12-03T06:13:50Z"
    assert backup["wal_start"] == backup["wal_stop"] == "000000010000000000000012"
    assert backup["size"] == 336787225 and backup["repository_size"] == 17059216
    assert pgb.explain_status(result, "lab") is None


def test_raw_bytes_from_a_wrong_cipher_pass_still_parse():
    text = repo_error(99, "[FormatError] unable to load info file '/pgbackrest/backup/lab/backup.info'").replace(
        "backup.info'", "backup.info':\n FormatError: key/value found outside of section: \u00c2}1\u00f73\x10\x1b"
    )
    text = text.replace("\\n", "\n").replace("\\u001b", "\x1b").replace("\\u0010", "\x10")
    message = pgb.explain_status(summary(text), "lab")
    assert "cannot be decrypted" in message and "repo1-cipher-pass" in message


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (
            99,
            "[ProtocolError] HTTP request failed with 403 (Forbidden):\n*** Path/Query ***",
            "refused the credentials",
        ),
        (
            99,
            "[CryptoError] unable to verify certificate presented by 'localhost:57900': [20]",
            "repo1-storage-ca-file",
        ),
        (
            99,
            "[HostConnectError] unable to connect to 'localhost:57999': [111] Connection refused",
            "cannot be reached",
        ),
        (1, "missing stanza path", "stanza-create"),
        (99, "[FileMissingError] something new", "pgbackrest --stanza=lab check"),
    ],
)
def test_unreadable_repository_says_why_and_what_to_do(code, message, expected):
    explained = pgb.explain_status(summary(repo_error(code, message)), "lab")
    assert expected in explained and f"status {code}" in explained
    assert "\n" not in explained


def test_no_backup_yet_is_readable_but_stale_when_a_limit_is_set():
    result = summary(repo_error(2, "no valid backups"))
    assert pgb.explain_status(result, "lab") is None
    facts, problems = pgb.freshness(result, None, AT_STOP)
    assert facts["last_backup"] is None and problems == []
    _facts, problems = pgb.freshness(result, None, AT_STOP, max_backup_age=3600)
    assert len(problems) == 1 and "--type=full backup" in problems[0]


def test_backup_age_against_the_limit():
    facts, problems = pgb.freshness(summary(), None, AT_STOP + timedelta(seconds=100), max_backup_age=100)
    assert facts["last_backup"] == "20261203-061349F" and facts["last_backup_age"] == 100 and problems == []
    facts, problems = pgb.freshness(summary(), None, AT_STOP + timedelta(seconds=101), max_backup_age=100)
    assert "20261203-061349F finished 101 s ago" in problems[0] and "--type=diff backup" in problems[0]


def test_incremental_and_failed_backups_do_not_count_as_fresh():
    result = summary()
    newer = dict(result["backups"][0], label="20261203-071349F_20261203-081349I", type="incr", stop_epoch=STOP + 7200)
    broken = dict(result["backups"][0], label="20261203-091349F", error=True, stop_epoch=STOP + 9000)
    result["backups"] += [newer, broken]
    facts, _problems = pgb.freshness(result, None, AT_STOP + timedelta(hours=3))
    assert facts["last_backup"] == "20261203-061349F"


def archiver(age, pending_bytes, failed_after=None, **extra):
    last = AT_STOP - timedelta(seconds=age)
    row = {
        "last_archived_time": last,
        "last_archived_wal": "000000010000000000000013",
        "failed_count": 0,
        "last_failed_wal": None,
        "last_failed_time": None,
        "current_lsn": 0x14000000 + pending_bytes,
        "in_recovery": False,
        "wal_segment_size": 16 * 1024 * 1024,
    }
    if failed_after is not None:
        row.update(failed_count=3, last_failed_wal="000000010000000000000014", last_failed_time=last + failed_after)
    row.update(extra)
    return row


def test_wal_segment_end():
    assert pgb.wal_segment_end("000000010000000000000013") == 0x14000000
    assert pgb.wal_segment_end("0000000200000001000000FF") == 0x200000000
    assert pgb.wal_segment_end("000000010000000000000001", 64 * 1024 * 1024) == 0x8000000


def test_archive_fresh_old_but_idle_and_stale():
    facts, problems = pgb.freshness(summary(), archiver(30, 500), AT_STOP, max_archive_age=60)
    assert facts["archive_age"] == 30 and facts["wal_pending_bytes"] == 500 and problems == []
    # an idle server wrote nothing since: an old archive is not a gap
    facts, problems = pgb.freshness(summary(), archiver(3600, 0), AT_STOP, max_archive_age=60)
    assert facts["wal_pending_bytes"] == 0 and problems == []
    _facts, problems = pgb.freshness(summary(), archiver(3600, 8192), AT_STOP, max_archive_age=60)
    assert "archived 3600 s ago" in problems[0] and "8192 bytes" in problems[0]
    assert "pgbackrest --stanza=lab check" in problems[0]


def test_archive_failing_now_is_reported_even_when_recent():
    _facts, problems = pgb.freshness(
        summary(), archiver(10, 0, failed_after=timedelta(seconds=5)), AT_STOP, max_archive_age=60
    )
    assert (
        "failing now" in problems[0]
        and "counts 3 failures" in problems[0]
        and "000000010000000000000014" in problems[0]
    )
    # a failure before the last success is history, not a problem
    _facts, problems = pgb.freshness(
        summary(), archiver(10, 0, failed_after=-timedelta(seconds=5)), AT_STOP, max_archive_age=60
    )
    assert problems == []


def test_archive_never_archived_and_standby():
    row = archiver(0, 0, last_archived_time=None, last_archived_wal=None)
    _facts, problems = pgb.freshness(summary(), row, AT_STOP, max_archive_age=60)
    assert "no WAL segment was ever archived" in problems[0]
    standby = archiver(99999, 99999, in_recovery=True, current_lsn=None)
    _facts, problems = pgb.freshness(summary(), standby, AT_STOP, max_archive_age=60)
    assert problems == []


def test_load_info_rejects_what_is_not_a_list():
    with pytest.raises(ValueError):
        pgb.load_info('{"a": 1}')
    with pytest.raises(ValueError):
        pgb.load_info("ERROR: [031]: option not allowed")


def metrics(text):
    """{name: value} of Prometheus text lines with the stanza label."""
    return {
        line.split("{")[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_textfile_metrics_on_the_primary():
    row = archiver(30, 500, failed_after=timedelta(seconds=5))
    facts, _problems = pgb.freshness(summary(), row, AT_STOP + timedelta(seconds=100))
    text = pgb.textfile_metrics("lab", facts, row, AT_STOP + timedelta(seconds=100))
    assert 'webstack_backup_last_age_seconds{stanza="lab"} 100' in text
    assert metrics(text) == {
        "webstack_backup_metrics_up": 1,
        "webstack_backup_metrics_timestamp_seconds": STOP + 100,
        "webstack_backup_primary": 1,
        "webstack_backup_last_age_seconds": 100,
        "webstack_backup_wal_archive_age_seconds": 130,
        "webstack_backup_wal_pending_bytes": 500,
        "webstack_backup_wal_archive_failing": 1,
        "webstack_backup_wal_archive_failed_count": 3,
    }
    assert text.count("# TYPE") == len(metrics(text))


def test_textfile_metrics_without_a_backup_leaves_the_age_out():
    facts, _problems = pgb.freshness(summary(repo_error(2, "no valid backups")), archiver(30, 0), AT_STOP)
    found = metrics(pgb.textfile_metrics("lab", facts, archiver(30, 0), AT_STOP))
    assert "webstack_backup_last_age_seconds" not in found
    assert found["webstack_backup_wal_archive_failing"] == 0


def test_textfile_metrics_on_a_standby_and_on_failure():
    standby = archiver(0, 0, in_recovery=True, current_lsn=None)
    assert metrics(pgb.textfile_metrics("lab", None, standby, AT_STOP)) == {
        "webstack_backup_metrics_up": 1,
        "webstack_backup_metrics_timestamp_seconds": STOP,
        "webstack_backup_primary": 0,
    }
    failed = metrics(pgb.textfile_metrics('a"b', None, None, AT_STOP, error="postgres down"))
    assert failed == {
        "webstack_backup_metrics_up": 0,
        "webstack_backup_metrics_timestamp_seconds": STOP,
        "webstack_backup_primary": 0,
    }


def test_textfile_metrics_keep_the_archive_state_when_the_repository_cannot_be_read():
    # The object store down: pgBackRest cannot list the backups, PostgreSQL still says the archive fails.
    row = archiver(300, 5000, failed_after=timedelta(seconds=290))
    facts, _problems = pgb.freshness(None, row, AT_STOP, stanza_name="lab")
    found = metrics(pgb.textfile_metrics("lab", facts, row, AT_STOP, error="store unreachable"))
    assert found["webstack_backup_metrics_up"] == 0 and "webstack_backup_last_age_seconds" not in found
    assert found["webstack_backup_wal_archive_failing"] == 1
    assert found["webstack_backup_wal_archive_age_seconds"] == 300
    assert found["webstack_backup_wal_pending_bytes"] == 5000
    assert 'stanza="a\\"b"' in pgb.textfile_metrics('a"b', None, None, AT_STOP, error="x")


def test_carried_backup_age_continues_the_last_written_age():
    row = archiver(30, 0)
    facts, _problems = pgb.freshness(summary(), row, AT_STOP + timedelta(seconds=100))
    written = pgb.textfile_metrics("lab", facts, row, AT_STOP + timedelta(seconds=100))
    assert pgb.carried_backup_age(written, AT_STOP + timedelta(seconds=160)) == 160
    # the interim file it goes into keeps the series and says the repository is not read
    facts, _problems = pgb.freshness(None, row, AT_STOP + timedelta(seconds=160), stanza_name="lab")
    facts["last_backup_age"] = 160
    found = metrics(pgb.textfile_metrics("lab", facts, row, AT_STOP + timedelta(seconds=160), error="reading"))
    assert found["webstack_backup_metrics_up"] == 0 and found["webstack_backup_last_age_seconds"] == 160
    assert found["webstack_backup_wal_archive_age_seconds"] == 190


@pytest.mark.parametrize(
    "previous",
    [
        "",
        # the repository could not be read last time: no age to carry
        pgb.textfile_metrics("lab", None, None, AT_STOP, error="store unreachable"),
        'webstack_backup_last_age_seconds{stanza="lab"} 100\n',
        'webstack_backup_last_age_seconds{stanza="lab"} 1\nwebstack_backup_metrics_timestamp_seconds{stanza="lab"} x\n',
    ],
)
def test_carried_backup_age_without_a_readable_age(previous):
    assert pgb.carried_backup_age(previous, AT_STOP) is None


def test_info_timeout_is_above_pgbackrest_s_own_worst_case():
    # 2.45 against a black-holed store: 8 x io-timeout (measured 8.7 s with --io-timeout=1, 40.8 s with 5)
    assert pgb.info_timeout(1) > 8.7 and pgb.info_timeout(5) > 40.8
    assert pgb.info_timeout(3) == 34
