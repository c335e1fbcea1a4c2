# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pure logic of the failover drill's writer: what its log of commits and errors says about an outage.

The writer records every commit the server acknowledged (its id and the time the acknowledgement arrived) and
every failed attempt (its time and the kind of error). From that log alone: the write outage (first failed write
to the first acknowledged one after it), the errors by kind, and per second how many writes succeeded and failed.
With the ids the new primary holds: the acknowledged commits that were lost, and the time they span.
"""

import math
from typing import Any


def error_kind(exc: BaseException) -> str:
    """A short, stable name for a client error: the SQLSTATE class when there is one, else the exception's type."""
    code = getattr(exc, "pgcode", None)
    if code:
        return f"SQLSTATE {code}"
    return type(exc).__name__


def outage(acks: list[tuple[int, float]], errors: list[tuple[float, str]]) -> dict[str, Any]:
    """The write outage: the longest time without an acknowledged commit, and the failed writes in it (pure).

    PgBouncer holds a client's write while it has no server to send it to, so a lost primary can show as writes
    that stall, not fail: the outage runs from the last acknowledged commit before the longest stall (stalled_at)
    to the first one after it (writes_back_at). When writes failed after the last acknowledged commit, the outage
    is still open (writes_back_at and seconds null). acks: (id, time); errors: (time, kind).
    """
    times = sorted(when for _id, when in acks)
    first_error = min((when for when, _kind in errors), default=None)
    if not times or (first_error is not None and first_error > times[-1]):
        stalled, back = (times[-1] if times else None), None
    elif len(times) == 1:
        stalled, back = times[0], times[0]
    else:
        _gap, stalled, back = max((later - earlier, earlier, later) for earlier, later in zip(times, times[1:]))
    inside = [when for when, _kind in errors if stalled is None or (when >= stalled and (back is None or when <= back))]
    return {
        "stalled_at": stalled,
        "writes_back_at": back,
        "seconds": None if back is None or stalled is None else round(back - stalled, 3),
        "first_error_at": first_error,
        "errors": len(inside),
    }


def errors_by_kind(errors: list[tuple[float, str]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _when, kind in errors:
        counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items()))


def per_second(acks: list[tuple[int, float]], errors: list[tuple[float, str]], start: float) -> list[dict[str, int]]:
    """Acknowledged and failed writes in each whole second since start (pure)."""
    times = [when for _id, when in acks] + [when for when, _kind in errors]
    if not times:
        return []
    seconds = [{"second": n, "ok": 0, "errors": 0} for n in range(math.floor(max(times) - start) + 1)]
    for _id, when in acks:
        seconds[max(0, int(when - start))]["ok"] += 1
    for when, _kind in errors:
        seconds[max(0, int(when - start))]["errors"] += 1
    return seconds


def lost_commits(acks: list[tuple[int, float]], present: set[int], failed_at: Any = None) -> dict[str, Any]:
    """The acknowledged commits the database no longer holds, and how far back they reach (the RPO) (pure).

    rpo_seconds is the age of the oldest lost commit when writes first failed (failed_at), or, without
    failed_at, the time from it to the newest lost one.
    """
    lost = sorted((when, ident) for ident, when in acks if ident not in present)
    reference = failed_at if failed_at is not None else (lost[-1][0] if lost else None)
    rpo = round(reference - lost[0][0], 3) if lost else 0.0
    return {
        "acknowledged": len(acks),
        "lost": len(lost),
        "lost_ids": [ident for _when, ident in lost],
        "rpo_seconds": rpo,
        "first_lost_at": lost[0][0] if lost else None,
        "last_lost_at": lost[-1][0] if lost else None,
    }
