# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Only the physical slots the role made for members that left are dropped; the rest is left alone."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.stale_slots import stale_slots


def slot(name, active=False, kind="physical", retained=16777216):
    return {"name": name, "type": kind, "active": active, "retained_bytes": retained}


MEMBERS = ["lab-db1", "lab-db2"]


def test_a_former_members_idle_slot_is_dropped_and_forgotten():
    plan = stale_slots([slot("lab_db2", active=True), slot("lab_db3")], MEMBERS, ["lab_db1", "lab_db2", "lab_db3"])
    assert [s["name"] for s in plan["drop"]] == ["lab_db3"]
    assert plan["busy"] == []
    assert plan["record"] == ["lab_db1", "lab_db2"]


def test_a_former_member_still_streaming_is_kept_and_remembered():
    plan = stale_slots([slot("lab_db3", active=True)], MEMBERS, ["lab_db3"])
    assert plan["drop"] == []
    assert [s["name"] for s in plan["busy"]] == ["lab_db3"]
    assert plan["record"] == ["lab_db1", "lab_db2", "lab_db3"]


@pytest.mark.parametrize(
    "other",
    [
        slot("barman"),  # another tool's physical slot: never recorded by the role
        slot("webstack_switchover_rewind"),  # switchover.yml's
        slot("lab_db3", kind="logical"),  # logical, even under a recorded name
    ],
)
def test_slots_the_role_did_not_make_are_never_touched(other):
    plan = stale_slots([other], MEMBERS, ["lab_db1", "lab_db2"] + (["lab_db3"] if other["name"] == "lab_db3" else []))
    assert plan["drop"] == [] and plan["busy"] == []


def test_a_members_slot_is_never_stale_even_when_idle():
    plan = stale_slots([slot("lab_db2")], MEMBERS, ["lab_db2"])
    assert plan["drop"] == []


def test_a_recorded_former_member_without_a_slot_here_is_forgotten():
    assert stale_slots([], MEMBERS, ["lab_db3"])["record"] == ["lab_db1", "lab_db2"]


@pytest.mark.parametrize(("slots", "members", "known"), [("x", MEMBERS, []), ([1], MEMBERS, []), ([], "db1", [])])
def test_refuses_what_is_not_a_slot_list(slots, members, known):
    with pytest.raises(AnsibleFilterError):
        stale_slots(slots, members, known)
