# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Pure logic of the restore drill's table checksums: the SQL, the snapshot check, the comparison.

A table's checksum is independent of row order: every row's text (the whole-row value, as PostgreSQL prints it
with the session settings in SESSION_SETTINGS) is hashed with md5, and the two 64-bit halves of the hashes are
summed exactly (numeric). The checksum is then md5 of "rows:sum_high:sum_low". Two tables with the same rows,
in any physical order, have the same checksum; a changed, missing or extra row changes it.
"""

import hashlib
import re
from typing import Any, Optional

# Settings that change how a row prints as text: the same on the source and on the copy.
SESSION_SETTINGS = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, YMD",
    "IntervalStyle": "postgres",
    "extra_float_digits": "3",
    "bytea_output": "hex",
    "lc_monetary": "C",
    "xmlbinary": "base64",
}

# Tables whose content a restore brings back: ordinary, permanent, outside the system schemas.
# Unlogged tables come back empty after any recovery, so they are listed apart and never compared.
TABLES_SQL = """
SELECT n.nspname AS schema, c.relname AS name, c.relpersistence = 'u' AS unlogged
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND c.relpersistence IN ('p', 'u')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
 ORDER BY 1, 2
"""

DATABASES_SQL = """
SELECT datname AS name FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1
"""

_SNAPSHOT_RE = re.compile(r"^\s*(\d+):(\d+):([\d,]*)\s*$")


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier, always quoted (pure)."""
    return '"' + name.replace('"', '""') + '"'


def checksum_sql(schema: str, table: str) -> str:
    """The query that returns rows, sum_high and sum_low of one table (pure)."""
    return (
        "SELECT count(*) AS rows,"
        " coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint), 0)::text AS sum_high,"
        " coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint), 0)::text AS sum_low"
        f" FROM (SELECT md5(t::text) AS h FROM {quote_ident(schema)}.{quote_ident(table)} AS t) AS hashed"
    )


def table_checksum(rows: int, sum_high: str, sum_low: str) -> str:
    """One text that stands for a table's content (pure)."""
    return hashlib.md5(f"{rows}:{sum_high}:{sum_low}".encode(), usedforsecurity=False).hexdigest()


def parse_snapshot(text: str) -> tuple[int, int, frozenset]:
    """pg_current_snapshot() text 'xmin:xmax:xip,...' -> (xmin, xmax, in-progress IDs). Raises ValueError."""
    match = _SNAPSHOT_RE.match(text or "")
    if not match:
        raise ValueError(f"not a PostgreSQL snapshot: {text!r} (expected 'xmin:xmax:xip,...')")
    xip = frozenset(int(xid) for xid in match.group(3).split(",") if xid)
    return int(match.group(1)), int(match.group(2)), xip


def transactions_between(before: str, after: str) -> int:
    """How many transactions ended between two snapshots of the same cluster (0: nothing committed) (pure).

    A transaction that ends either leaves the in-progress list or, when it started after the first snapshot,
    moves xmax forward; both count. xmin moving alone is a consequence of one of those.
    """
    _xmin_b, xmax_b, xip_b = parse_snapshot(before)
    _xmin_a, xmax_a, xip_a = parse_snapshot(after)
    ended = len(xip_b - xip_a)
    started_and_ended = max(0, xmax_a - xmax_b) - len({xid for xid in xip_a if xid >= xmax_b})
    return ended + max(0, started_and_ended)


def compare_tables(expected: dict[str, dict[str, dict[str, Any]]], actual: dict[str, dict[str, dict[str, Any]]]):
    """Compare two snapshots' tables, database by database, table by table (pure).

    Both are {database: {"schema.table": {"rows": n, "checksum": text}}}. Returns a dict with equal (bool),
    compared (tables present on both sides) and differences: one entry per table that is missing, extra, or
    has other rows or content, with what each side holds.
    """
    differences = []
    compared = 0
    for database in sorted(set(expected) | set(actual)):
        want, have = expected.get(database), actual.get(database)
        if want is None or have is None:
            differences.append(
                {
                    "database": database,
                    "table": None,
                    "problem": "database missing in the copy" if have is None else "database not in the source",
                }
            )
            continue
        for table in sorted(set(want) | set(have)):
            source, copy = want.get(table), have.get(table)
            entry: dict[str, Optional[Any]] = {"database": database, "table": table}
            if copy is None:
                entry["problem"] = "table missing in the copy"
            elif source is None:
                entry["problem"] = "table not in the source"
            else:
                compared += 1
                if source["rows"] != copy["rows"]:
                    entry["problem"] = "row counts differ"
                elif source["checksum"] != copy["checksum"]:
                    entry["problem"] = "content differs"
                else:
                    continue
            entry["source_rows"] = source["rows"] if source else None
            entry["copy_rows"] = copy["rows"] if copy else None
            differences.append(entry)
    return {"equal": not differences, "compared": compared, "differences": differences}
