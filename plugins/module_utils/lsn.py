# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""WAL positions (LSNs) and timelines as plain arithmetic on text and integers.

A module_utils file of its own, importing nothing but re, because filters use it too: ansible-core executes every
file in plugins/filter in each forked worker, and postgres.py would bring psycopg2 along.
"""

import re
from typing import Optional, Union

_LSN_RE = re.compile(r"^\s*([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})\s*$")


def parse_lsn(value: Union[str, int, None]) -> Optional[int]:
    """'16/B374D848' -> integer byte position. None stays None. Raises ValueError on garbage."""
    if value is None:
        return None
    if isinstance(value, int):
        return value
    match = _LSN_RE.match(str(value))
    if not match:
        raise ValueError(f"not a PostgreSQL LSN: {value!r} (expected the form 'XXXXXXXX/XXXXXXXX')")
    return (int(match.group(1), 16) << 32) | int(match.group(2), 16)


def format_lsn(value: Optional[int]) -> Optional[str]:
    """Integer byte position -> 'X/X' text as PostgreSQL prints it. None stays None."""
    if value is None:
        return None
    if value < 0:
        raise ValueError(f"an LSN cannot be negative: {value!r}")
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def lsn_diff(left: Union[str, int, None], right: Union[str, int, None]) -> Optional[int]:
    """left - right in bytes (like pg_wal_lsn_diff); None when either side is unknown."""
    if left is None or right is None:
        return None
    return parse_lsn(left) - parse_lsn(right)


def is_valid_lsn(value: Union[str, int, None]) -> bool:
    """Whether parse_lsn() accepts value."""
    try:
        parse_lsn(value)
    except ValueError:
        return False
    return True


def timeline_from_walfile(walfile: str) -> int:
    """'00000002000000000000000A' -> 2 (the first 8 hex digits of a WAL file name are the timeline)."""
    return int(walfile[:8], 16)
