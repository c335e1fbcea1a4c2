# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""playbooks/ha_mode.yml's decision: move, nothing to do, or refuse before any host is changed."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.ha_mode_plan import ha_mode_plan

MANUAL = {"manual": True, "patroni": False, "patroni_config": False}
PATRONI = {"manual": False, "patroni": True, "patroni_config": True}
STREAMING = ({"application_name": "db2", "state": "streaming", "lag_bytes": 0},)
ETCD = ["db1", "db2", "etcd1"]


def plan(states, target="patroni", replicas=STREAMING, **kwargs):
    return ha_mode_plan(states, target, "db1", replicas=list(replicas), etcd_members=kwargs.pop("etcd", ETCD), **kwargs)


BOTH = {"manual": True, "patroni": True, "patroni_config": True}
CONFIG = {"manual": True, "patroni": False, "patroni_config": True}
TO_PATRONI = ["adopt", "handover"]


def test_a_manual_cluster_moves_to_patroni():
    assert plan({"db1": MANUAL, "db2": MANUAL}) == {
        "current": "manual",
        "action": "move",
        "refusal": "",
        "resume": False,
        "steps": {"db1": TO_PATRONI, "db2": TO_PATRONI},
    }


def test_a_patroni_cluster_moves_back():
    assert plan({"db1": PATRONI, "db2": PATRONI}, "manual") == {
        "current": "patroni",
        "action": "move",
        "refusal": "",
        "resume": False,
        "steps": {"db1": ["leader", "forget"], "db2": ["nofailover", "replica", "forget"]},
    }


@pytest.mark.parametrize("state, target", [(MANUAL, "manual"), (PATRONI, "patroni")])
def test_a_cluster_in_the_wanted_mode_is_left_alone_whatever_its_lag(state, target):
    result = plan({"db1": state, "db2": state}, target, replicas=[])
    assert result == {"current": target, "action": "none", "refusal": "", "resume": False, "steps": {}}


def test_an_unknown_mode_is_refused():
    result = plan({"db1": MANUAL, "db2": MANUAL}, "auto")
    assert "ha_mode must be patroni or manual, not 'auto'" in result["refusal"]


@pytest.mark.parametrize(
    "db1, db2, target, steps",
    [
        # to Patroni: the primary adopted, then each replica adopted and handed over, the primary last
        (BOTH, MANUAL, "patroni", {"db1": TO_PATRONI, "db2": TO_PATRONI}),
        (BOTH, CONFIG, "patroni", {"db1": TO_PATRONI, "db2": TO_PATRONI}),
        (BOTH, BOTH, "patroni", {"db1": TO_PATRONI, "db2": TO_PATRONI}),
        (BOTH, PATRONI, "patroni", {"db1": TO_PATRONI, "db2": []}),
        # back: the leader moved, then the replicas, then each member forgets Patroni
        (CONFIG, PATRONI, "manual", {"db1": ["forget"], "db2": ["nofailover", "replica", "forget"]}),
        (CONFIG, CONFIG, "manual", {"db1": ["forget"], "db2": ["forget"]}),
        (MANUAL, CONFIG, "manual", {"db1": [], "db2": ["forget"]}),
        # only the primary holds Patroni's configuration: either way goes on
        (CONFIG, MANUAL, "manual", {"db1": ["forget"], "db2": []}),
        (CONFIG, MANUAL, "patroni", {"db1": TO_PATRONI, "db2": TO_PATRONI}),
    ],
)
def test_a_move_stopped_half_way_goes_on_with_the_steps_each_member_lacks(db1, db2, target, steps):
    result = plan({"db1": db1, "db2": db2}, target)
    assert result == {"current": "mixed", "action": "move", "refusal": "", "resume": True, "steps": steps}


def test_back_a_replica_patroni_still_runs_need_not_stream_once_the_leader_moved():
    result = plan({"db1": CONFIG, "db2": PATRONI}, "manual", replicas=[])
    assert result["refusal"] == "" and result["steps"]["db2"] == ["nofailover", "replica", "forget"]
    # one already under Debian's unit must stream
    assert "db2 does not stream from db1" in plan({"db1": CONFIG, "db2": CONFIG}, "manual", replicas=[])["refusal"]


@pytest.mark.parametrize(
    "db1, db2, target, heading",
    [
        (BOTH, MANUAL, "manual", "patroni"),
        (BOTH, PATRONI, "manual", "patroni"),
        (CONFIG, PATRONI, "patroni", "manual"),
        (MANUAL, CONFIG, "patroni", "manual"),
    ],
)
def test_a_move_stopped_half_way_is_not_turned_back(db1, db2, target, heading):
    result = plan({"db1": db1, "db2": db2}, target)
    assert result["action"] == "none" and "mid-way" in result["refusal"]
    assert f"as a move to the {heading} mode leaves it when it stops half-way" in result["refusal"]
    assert f"Finish that move first (-e ha_mode={heading})" in result["refusal"]


@pytest.mark.parametrize(
    "db1, db2, shown",
    [
        (MANUAL, BOTH, "db2 both"),
        (PATRONI, MANUAL, "db1 patroni, db2 manual"),
        (MANUAL, PATRONI, "db1 manual, db2 patroni"),
        (CONFIG, BOTH, "db2 both"),
    ],
)
def test_a_cluster_no_move_leaves_is_refused_with_each_members_state(db1, db2, shown):
    for target in ("patroni", "manual"):
        result = plan({"db1": db1, "db2": db2}, target)
        assert result["current"] == "mixed" and "mid-way" in result["refusal"] and shown in result["refusal"]
        assert "which no move of this playbook leaves" in result["refusal"]
        assert "Moving between the modes" in result["refusal"]


def test_a_member_without_a_server_is_refused():
    result = plan({"db1": MANUAL, "db2": {"manual": False, "patroni": False}})
    assert "db2 run(s) no server" in result["refusal"]


def test_a_lagging_or_absent_replica_is_refused():
    lagging = [{"application_name": "db2", "state": "streaming", "lag_bytes": 20_000_000}]
    assert "db2 is 20000000 bytes behind" in plan({"db1": MANUAL, "db2": MANUAL}, replicas=lagging)["refusal"]
    assert (
        "db2 does not stream from db1 (not connected)" in plan({"db1": MANUAL, "db2": MANUAL}, replicas=[])["refusal"]
    )
    catching_up = [{"application_name": "db2", "state": "catchup", "lag_bytes": 0}]
    assert "(catchup)" in plan({"db1": MANUAL, "db2": MANUAL}, replicas=catching_up)["refusal"]


@pytest.mark.parametrize("etcd", [[], ["e1", "e2"], ["e1", "e2", "e3", "e4"]])
def test_patroni_needs_an_odd_etcd_group_of_three_or_more(etcd):
    result = plan({"db1": MANUAL, "db2": MANUAL}, etcd=etcd)
    assert f"the etcd group has {len(etcd)} host(s)" in result["refusal"]


def test_the_way_back_needs_no_etcd_group():
    assert plan({"db1": PATRONI, "db2": PATRONI}, "manual", etcd=[])["refusal"] == ""


def test_different_releases_are_refused():
    result = plan({"db1": MANUAL, "db2": MANUAL}, releases={"db1": "bookworm", "db2": "trixie"})
    assert "different Debian releases (db1 bookworm, db2 trixie)" in result["refusal"]


@pytest.mark.parametrize("db1", [MANUAL, BOTH])
def test_no_primary_is_refused(db1):
    result = ha_mode_plan({"db1": db1, "db2": MANUAL}, "patroni", "", replicas=[], etcd_members=ETCD)
    assert "no single primary" in result["refusal"]


def test_no_states_is_an_error():
    with pytest.raises(AnsibleFilterError):
        ha_mode_plan({}, "patroni", "db1")


def test_a_slot_that_is_no_members_is_refused_on_the_way_to_patroni_only():
    slots = [{"name": "db2", "type": "physical"}, {"name": "cdc_orders", "type": "logical"}]
    to_patroni = plan({"db1": MANUAL, "db2": MANUAL}, slots=slots)
    assert "slots that are no member's (cdc_orders (logical)): Patroni drops them" in to_patroni["refusal"]
    back = plan({"db1": PATRONI, "db2": PATRONI}, "manual", slots=slots)
    assert back["refusal"] == ""


def test_the_members_own_slots_pass():
    assert plan({"db1": MANUAL, "db2": MANUAL}, slots=[{"name": "db2", "type": "physical"}])["refusal"] == ""
