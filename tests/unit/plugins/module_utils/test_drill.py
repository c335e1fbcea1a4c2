# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The restore drill's checksums, snapshot window and table comparison, without a database."""

import pytest
from ansible_collections.opsforge.webstack.plugins.module_utils import drill


def test_identifiers_are_always_quoted_and_embedded_quotes_doubled():
    assert drill.quote_ident("orders") == '"orders"'
    assert drill.quote_ident('we"ird') == '"we""ird"'
    sql = drill.checksum_sql("public", 'a"b')
    assert 'FROM "public"."a""b" AS t' in sql


def test_the_checksum_depends_on_rows_and_both_sums():
    base = drill.table_checksum(3, "10", "20")
    assert base == drill.table_checksum(3, "10", "20")
    assert len({base, drill.table_checksum(4, "10", "20"), drill.table_checksum(3, "11", "20")}) == 3
    assert drill.table_checksum(3, "10", "21") != base


@pytest.mark.parametrize(
    ("before", "after", "ended"),
    [
        ("100:100:", "100:100:", 0),  # nothing happened
        ("90:100:90,95", "90:100:90,95", 0),  # still running on both sides
        ("90:100:90,95", "95:100:95", 1),  # 90 ended
        ("100:100:", "100:102:", 2),  # 100 and 101 started and ended
        ("100:100:", "100:103:101", 2),  # 100 and 102 ended, 101 still runs
        ("90:100:90", "100:104:", 5),
    ],
)
def test_transactions_ending_between_two_snapshots_are_counted(before, after, ended):
    assert drill.transactions_between(before, after) == ended


def test_a_malformed_snapshot_is_refused():
    with pytest.raises(ValueError, match="not a PostgreSQL snapshot"):
        drill.parse_snapshot("garbage")


SOURCE = {
    "shop": {
        "public.orders": {"rows": 3, "checksum": "a"},
        "public.items": {"rows": 5, "checksum": "b"},
    },
    "postgres": {},
}


def test_equal_snapshots_compare_equal():
    result = drill.compare_tables(SOURCE, SOURCE)
    assert result == {"equal": True, "compared": 2, "differences": []}


def test_every_kind_of_difference_is_named_with_both_sides():
    copy = {
        "shop": {
            "public.orders": {"rows": 2, "checksum": "x"},
            "public.items": {"rows": 5, "checksum": "c"},
            "public.extra": {"rows": 1, "checksum": "d"},
        },
    }
    result = drill.compare_tables(SOURCE, copy)
    assert not result["equal"]
    assert result["compared"] == 2
    problems = {(d["database"], d["table"]): d for d in result["differences"]}
    assert problems[("postgres", None)]["problem"] == "database missing in the copy"
    assert problems[("shop", "public.orders")] == {
        "database": "shop",
        "table": "public.orders",
        "problem": "row counts differ",
        "source_rows": 3,
        "copy_rows": 2,
    }
    assert problems[("shop", "public.items")]["problem"] == "content differs"
    assert problems[("shop", "public.extra")]["problem"] == "table not in the source"
    assert problems[("shop", "public.extra")]["source_rows"] is None


def test_a_table_missing_in_the_copy_is_a_difference():
    copy = {"shop": {"public.orders": {"rows": 3, "checksum": "a"}}, "postgres": {}}
    result = drill.compare_tables(SOURCE, copy)
    assert result["differences"] == [
        {
            "database": "shop",
            "table": "public.items",
            "problem": "table missing in the copy",
            "source_rows": 5,
            "copy_rows": None,
        }
    ]
