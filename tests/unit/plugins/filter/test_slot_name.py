# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every place that names a member's slot (slots, application_name, synchronous_standby_names) agrees."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.slot_name import slot_name


@pytest.mark.parametrize(
    ("host", "slot"),
    [("db1", "db1"), ("lab-db2", "lab_db2"), ("DB3.example.com", "db3_example_com"), ("a_b", "a_b")],
)
def test_one_name(host, slot):
    assert slot_name(host) == slot


def test_a_list_keeps_its_order():
    assert slot_name(["lab-db2", "lab-db1"]) == ["lab_db2", "lab_db1"]
    assert slot_name([]) == []


@pytest.mark.parametrize("bad", ["", None, 3, {"db1": 1}])
def test_refuses_what_is_not_a_host_name(bad):
    with pytest.raises(AnsibleFilterError):
        slot_name(bad)
