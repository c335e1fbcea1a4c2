# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Entries of users and databases get the keys they leave out, and keep the ones they set."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.with_defaults import with_defaults


def test_fills_what_is_left_out_and_keeps_what_is_set():
    entries = [{"name": "a"}, {"name": "b", "state": "absent"}]
    assert with_defaults(entries, {"state": "present"}) == [
        {"state": "present", "name": "a"},
        {"state": "absent", "name": "b"},
    ]
    assert entries == [{"name": "a"}, {"name": "b", "state": "absent"}]  # input left alone


def test_empty_list():
    assert with_defaults([], {"state": "present"}) == []


@pytest.mark.parametrize(("entries", "defaults"), [("abc", {}), ({"a": 1}, {}), ([1], {}), ([{}], ["x"])])
def test_refuses_what_is_not_a_list_of_dicts(entries, defaults):
    with pytest.raises(AnsibleFilterError):
        with_defaults(entries, defaults)
