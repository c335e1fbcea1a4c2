# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Grandfather-father-son retention of dumps in an object store, as plain functions.

A dump is (key, timestamp). Calendar buckets are days, ISO weeks (so the last
days of December can belong to week 1 of the next year) and months, all in UTC.
For each kind, the newest dump of each of the most recent N buckets that hold a
dump is kept; the newest dump overall is always kept. Everything else goes.
"""

import re
from datetime import datetime, timezone

DEFAULT_NAME_PATTERN = r"(?P<ts>\d{8}T\d{6}Z)"
DEFAULT_TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"


def bucket_of(kind, when):
    """The calendar bucket a UTC datetime falls in for one kind of retention."""
    if kind == "daily":
        return when.date()
    if kind == "weekly":
        year, week, _day = when.isocalendar()
        return (year, week)
    if kind == "monthly":
        return (when.year, when.month)
    raise ValueError(f"unknown retention kind {kind!r}")


def select(dumps, keep_daily=30, keep_weekly=12, keep_monthly=12):
    """Decide which dumps to keep.

    dumps: iterable of (key, aware datetime). Returns (keep, delete): keep is a
    list of {key, timestamp, reasons} newest first, delete a list of
    {key, timestamp} newest first.
    """
    for name, value in (("keep_daily", keep_daily), ("keep_weekly", keep_weekly), ("keep_monthly", keep_monthly)):
        if value < 0:
            raise ValueError(f"{name} must be 0 or more, not {value}")
    ordered = sorted(dumps, key=lambda dump: (dump[1], dump[0]), reverse=True)
    reasons = {}
    for kind, limit in (("daily", keep_daily), ("weekly", keep_weekly), ("monthly", keep_monthly)):
        seen = set()
        for key, when in ordered:
            bucket = bucket_of(kind, when.astimezone(timezone.utc))
            if bucket in seen:
                continue
            if len(seen) == limit:
                break
            seen.add(bucket)
            reasons.setdefault(key, []).append(kind)
    if ordered:
        reasons.setdefault(ordered[0][0], []).insert(0, "newest")
    keep, delete = [], []
    for key, when in ordered:
        if key in reasons:
            keep.append({"key": key, "timestamp": iso(when), "reasons": reasons[key]})
        else:
            delete.append({"key": key, "timestamp": iso(when)})
    return keep, delete


def iso(when):
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def timestamp_from_name(key, pattern, fmt):
    """The UTC datetime in an object's key, or None when the key does not match. Raises ValueError on a bad date."""
    match = re.search(pattern, key)
    if not match:
        return None
    text = match.group("ts") if "ts" in match.groupdict() else match.group(0)
    when = datetime.strptime(text, fmt)
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when


def dumps_from_listing(
    objects, source="name", pattern=DEFAULT_NAME_PATTERN, fmt=DEFAULT_TIMESTAMP_FORMAT, suffix=".sha256"
):
    """Split a ListObjectsV2 listing into dumps, their checksum objects and keys that are left alone.

    objects: dicts with Key and LastModified. Returns (dumps, sidecars, ignored): dumps a list of
    (key, datetime); sidecars the set of keys ending in suffix; ignored the keys whose time cannot be told.
    """
    dumps, sidecars, ignored = [], set(), []
    for obj in objects:
        key = obj["Key"]
        if suffix and key.endswith(suffix):
            sidecars.add(key)
            continue
        if source == "last_modified":
            when = obj["LastModified"]
        else:
            try:
                when = timestamp_from_name(key, pattern, fmt)
            except ValueError:
                when = None
        if when is None:
            ignored.append(key)
        else:
            dumps.append((key, when))
    return dumps, sidecars, ignored
