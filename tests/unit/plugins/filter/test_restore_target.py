"""A restore target that cannot be reached is refused before anything is touched."""

from datetime import datetime, timezone

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.restore_target import restore_target

FIRST_STOP = datetime(2026, 12, 3, 6, 0, tzinfo=timezone.utc).timestamp()
NOW = datetime(2026, 12, 3, 8, 0, tzinfo=timezone.utc).timestamp()
BACKUPS = [
    {"label": "20261203-055900F", "stop_epoch": FIRST_STOP},
    {"label": "20261203-065900F_20261203-070000D", "stop_epoch": FIRST_STOP + 3600},
]


def test_no_target_restores_the_latest():
    plan = restore_target(BACKUPS, "", "", NOW)
    assert plan["error"] is None
    assert plan["type"] == "default"
    assert plan["options"] == []


def test_a_time_between_the_first_backup_and_now_is_normalised_to_utc():
    plan = restore_target(BACKUPS, "2026-12-03 08:30:00+02:00", "", NOW)
    assert plan["error"] is None
    assert plan["options"] == ["--type=time", "--target=2026-12-03 06:30:00.000000+00"]


def test_a_time_keeps_its_fraction_of_a_second():
    # psql's clock_timestamp() as printed; cut to the second, the commits of that second would be lost.
    plan = restore_target(BACKUPS, "2026-12-03 06:30:00.123456+00", "", NOW)
    assert plan["options"] == ["--type=time", "--target=2026-12-03 06:30:00.123456+00"]


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("2026-12-03 09:00:00+00:00", "in the future"),
        ("2026-12-03 05:00:00Z", "before the end of the first backup (20261203-055900F"),
        ("2026-12-03 07:00:00", "no time zone"),
        ("yesterday", "is not a time"),
    ],
)
def test_unreachable_or_unclear_times_are_refused(target, words):
    plan = restore_target(BACKUPS, target, "", NOW)
    assert words in plan["error"]
    assert plan["options"] == []


def test_a_named_restore_point():
    plan = restore_target(BACKUPS, "", "before-migration", NOW)
    assert plan["options"] == ["--type=name", "--target=before-migration"]


def test_both_a_time_and_a_name_are_refused():
    assert "not both" in restore_target(BACKUPS, "2026-12-03 07:00:00Z", "x", NOW)["error"]


def test_no_finished_backup_is_refused():
    plan = restore_target([{"label": "x", "stop_epoch": None}], "", "", NOW)
    assert "no finished backup" in plan["error"]


def test_the_input_must_be_the_backup_list():
    with pytest.raises(AnsibleFilterError):
        restore_target({"backup": []}, "", "", NOW)
