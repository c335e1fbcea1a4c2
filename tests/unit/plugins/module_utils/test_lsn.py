# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

import pytest
from ansible_collections.opsforge.webstack.plugins.module_utils import lsn


@pytest.mark.parametrize(
    ("text", "value"),
    [("0/0", 0), ("0/3000148", 0x3000148), ("16/B374D848", (0x16 << 32) | 0xB374D848), ("ff/ffffffff", 2**40 - 1)],
)
def test_parse_and_format_lsn_round_trip(text, value):
    assert lsn.parse_lsn(text) == value
    assert lsn.parse_lsn(lsn.format_lsn(value)) == value
    assert lsn.format_lsn(value) == text.upper()


@pytest.mark.parametrize("bad", ["", "0", "0/", "x/1", "1/2/3", "123456789/0", " / "])
def test_parse_lsn_rejects_garbage(bad):
    with pytest.raises(ValueError, match="not a PostgreSQL LSN"):
        lsn.parse_lsn(bad)
    assert lsn.is_valid_lsn(bad) is False


def test_lsn_none_and_negative():
    assert lsn.parse_lsn(None) is None
    assert lsn.format_lsn(None) is None
    with pytest.raises(ValueError):
        lsn.format_lsn(-1)


def test_lsn_diff_crosses_the_32_bit_boundary():
    assert lsn.lsn_diff("1/0", "0/FFFFFFFF") == 1
    assert lsn.lsn_diff("0/10", "0/20") == -16
    assert lsn.lsn_diff(None, "0/1") is None
    assert lsn.lsn_diff("0/1", None) is None


def test_timeline_from_walfile():
    assert lsn.timeline_from_walfile("00000002000000000000000A") == 2
    assert lsn.timeline_from_walfile("0000001A0000000100000003") == 26
