# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from datetime import datetime, timedelta, timezone

import pytest
from ansible_collections.opsforge.webstack.plugins.module_utils import retention


def at(text):
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc)


def daily(first, days, hour="02:00"):
    """One dump a day from `first`, named as the backup role names them."""
    start = at(f"{first} {hour}")
    return [
        (f"logical/shop/shop-{(start + timedelta(days=n)):%Y%m%dT%H%M%SZ}.dump", start + timedelta(days=n))
        for n in range(days)
    ]


def kept(keep):
    return [item["key"][len("logical/shop/shop-") :][:8] for item in keep]


def test_defaults_over_two_years_keep_30_daily_12_weekly_12_monthly():
    dumps = daily("2025-01-01", 730)  # 2025-01-01 .. 2026-12-31
    keep, delete = retention.select(dumps)
    assert len(keep) + len(delete) == 730
    newest = keep[0]
    assert newest["key"].endswith("20261231T020000Z.dump") and newest["reasons"][0] == "newest"
    assert {"daily", "weekly", "monthly"} <= set(newest["reasons"])
    days = [k for k in keep if "daily" in k["reasons"]]
    weeks = [k for k in keep if "weekly" in k["reasons"]]
    months = [k for k in keep if "monthly" in k["reasons"]]
    assert len(days) == 30 and len(weeks) == 12 and len(months) == 12
    assert days[-1]["timestamp"] == "2026-12-02T02:00:00Z"
    # the newest dump of each month: the last day of the month, across the year boundary
    assert [m["timestamp"][:10] for m in months][:3] == ["2026-12-31", "2026-11-30", "2026-10-31"]
    assert months[-1]["timestamp"][:10] == "2026-01-31"
    # kept = the union, nothing kept twice, nothing both kept and deleted
    assert len({k["key"] for k in keep}) == len(keep)
    assert not {k["key"] for k in keep} & {d["key"] for d in delete}
    assert delete[-1]["timestamp"] == "2025-01-01T02:00:00Z"


def test_iso_weeks_cross_the_year_boundary():
    # 2026-12-28 (Mon) .. 2027-01-03 (Sun) is ISO week 53 of 2026; 2027-01-04 starts week 1 of 2027
    dumps = daily("2026-12-21", 15)  # .. 2027-01-04
    keep, _delete = retention.select(dumps, keep_daily=0, keep_weekly=3, keep_monthly=0)
    weekly = [k["timestamp"][:10] for k in keep if "weekly" in k["reasons"]]
    assert weekly == ["2027-01-04", "2027-01-03", "2026-12-27"]
    assert retention.bucket_of("weekly", at("2026-12-31 12:00")) == (2026, 53)
    assert retention.bucket_of("weekly", at("2027-01-01 12:00")) == (2026, 53)


def test_month_boundary_keeps_the_last_dump_of_each_month():
    dumps = daily("2026-01-25", 14)  # 2026-01-25 .. 2026-02-07
    keep, _delete = retention.select(dumps, keep_daily=0, keep_weekly=0, keep_monthly=2)
    assert [(k["timestamp"][:10], k["reasons"]) for k in keep] == [
        ("2026-02-07", ["newest", "monthly"]),
        ("2026-01-31", ["monthly"]),
    ]


def test_several_dumps_a_day_keep_the_newest_of_the_day():
    dumps = daily("2026-03-01", 3, "02:00") + daily("2026-03-01", 3, "14:00")
    keep, delete = retention.select(dumps, keep_daily=2, keep_weekly=0, keep_monthly=0)
    assert [k["timestamp"] for k in keep] == ["2026-03-03T14:00:00Z", "2026-03-02T14:00:00Z"]
    assert len(delete) == 4


def test_newest_is_kept_even_with_all_limits_at_zero():
    keep, delete = retention.select(daily("2026-03-01", 5), 0, 0, 0)
    assert [k["reasons"] for k in keep] == [["newest"]] and keep[0]["timestamp"].startswith("2026-03-05")
    assert len(delete) == 4
    assert retention.select([], 0, 0, 0) == ([], [])


def test_gaps_count_buckets_that_hold_a_dump_not_calendar_days():
    dumps = daily("2026-03-01", 1) + daily("2026-03-10", 1) + daily("2026-03-20", 1)
    keep, delete = retention.select(dumps, keep_daily=2, keep_weekly=0, keep_monthly=0)
    assert [k["timestamp"][:10] for k in keep] == ["2026-03-20", "2026-03-10"] and len(delete) == 1


def test_time_zones_are_compared_in_utc():
    late = datetime(2026, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))  # 2026-03-02 04:30 UTC
    early = at("2026-03-02 01:00")
    keep, delete = retention.select([("a", late), ("b", early)], keep_daily=1, keep_weekly=0, keep_monthly=0)
    assert [k["key"] for k in keep] == ["a"] and [d["key"] for d in delete] == ["b"]


def test_negative_limits_are_refused():
    with pytest.raises(ValueError, match="keep_weekly must be 0 or more"):
        retention.select([], keep_weekly=-1)


def test_listing_splits_dumps_checksums_and_unknown_keys():
    modified = at("2026-05-05 05:05")
    objects = [
        {"Key": "logical/shop/shop-20260101T020000Z.dump", "LastModified": modified},
        {"Key": "logical/shop/shop-20260101T020000Z.dump.sha256", "LastModified": modified},
        {"Key": "logical/shop/README", "LastModified": modified},
        {"Key": "logical/shop/shop-20261399T020000Z.dump", "LastModified": modified},
    ]
    dumps, sidecars, ignored = retention.dumps_from_listing(objects)
    assert dumps == [("logical/shop/shop-20260101T020000Z.dump", at("2026-01-01 02:00"))]
    assert sidecars == {"logical/shop/shop-20260101T020000Z.dump.sha256"}
    assert ignored == ["logical/shop/README", "logical/shop/shop-20261399T020000Z.dump"]
    dumps, _sidecars, ignored = retention.dumps_from_listing(objects, source="last_modified")
    assert len(dumps) == 3 and all(when == modified for _key, when in dumps) and ignored == []


def test_custom_name_pattern_without_a_named_group():
    when = retention.timestamp_from_name("db/shop-2026-02-28.dump", r"\d{4}-\d{2}-\d{2}", "%Y-%m-%d")
    assert when == at("2026-02-28 00:00")
    assert retention.timestamp_from_name("db/other", r"\d{4}-\d{2}-\d{2}", "%Y-%m-%d") is None
