# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.patroni_cluster_check import patroni_cluster_check

MEMBERS = ["db-1", "db-2", "db-3"]
LEADER = {"name": "db_1", "role": "leader", "state": "running", "timeline": 4}
REPLICA2 = {"name": "db_2", "role": "replica", "state": "streaming", "timeline": 4, "lag": 0}
REPLICA3 = {"name": "db_3", "role": "sync_standby", "state": "streaming", "timeline": 4, "lag": 120}


def check(*members, max_lag_bytes=16777216, **cluster):
    answer = {"item": "db-2", "status": 200, "json": {"members": list(members), **cluster}}
    return patroni_cluster_check([answer], MEMBERS, max_lag_bytes=max_lag_bytes)


def test_a_healthy_cluster_names_its_leader_by_inventory_name():
    result = check(LEADER, REPLICA2, REPLICA3)
    assert result["refusal"] == ""
    assert result["leader"] == "db-1"
    assert result["members"]["db_3"] == "sync_standby/streaming lag 120 timeline 4"


def test_the_members_tagged_nofailover_are_named_by_inventory_name():
    tagged = {**REPLICA2, "tags": {"nofailover": True}}
    assert check(LEADER, tagged, {**REPLICA3, "tags": {"nofailover": False}})["nofailover"] == ["db-2"]
    assert check(LEADER, REPLICA2, REPLICA3)["nofailover"] == []


def test_no_answer_is_refused_with_the_errors():
    result = patroni_cluster_check([{"item": "db-1", "status": -1, "msg": "Connection refused"}], MEMBERS)
    assert result["leader"] == ""
    assert "no member's Patroni REST API answered GET /cluster (db-1: -1 Connection refused)" in result["refusal"]


def test_a_paused_cluster_is_refused_with_what_to_do():
    assert "`patronictl resume`" in check(LEADER, REPLICA2, REPLICA3, pause=True)["refusal"]


def test_a_scheduled_switchover_is_refused():
    scheduled = {"from": "db_1", "at": "2026-12-05T21:00:00+00:00"}
    assert "switchover scheduled" in check(LEADER, REPLICA2, REPLICA3, scheduled_switchover=scheduled)["refusal"]


def test_no_leader_is_refused():
    result = check({**LEADER, "role": "replica", "state": "running"}, REPLICA2, REPLICA3)
    assert result["refusal"].startswith("Patroni's cluster has no leader")
    assert result["leader"] == ""


def test_two_leaders_are_refused():
    assert "has 2 leaders" in check(LEADER, {**REPLICA2, "role": "leader"}, REPLICA3)["refusal"]


def test_a_leader_that_does_not_run_is_refused():
    assert "is stopped, not running" in check({**LEADER, "state": "stopped"}, REPLICA2, REPLICA3)["refusal"]


@pytest.mark.parametrize(
    ("replica", "refusal"),
    [
        ({**REPLICA2, "state": "stopped"}, "db_2 is stopped in Patroni's cluster, not streaming"),
        ({**REPLICA2, "state": "starting"}, "db_2 is starting in Patroni's cluster, not streaming"),
        ({**REPLICA2, "role": "uninitialized"}, "db_2 is uninitialized/streaming in Patroni's cluster, not a replica"),
        ({**REPLICA2, "lag": 2000}, "db_2 lags 2000 bytes behind the leader in Patroni's view (the limit is 1000)"),
        ({**REPLICA2, "lag": "unknown"}, "db_2 lags unknown bytes"),
        ({**REPLICA2, "timeline": 3}, "db_2 is on timeline 3, the leader on 4"),
    ],
)
def test_a_member_that_does_not_stream_within_the_limit_is_refused_with_what_to_do(replica, refusal):
    result = check(LEADER, replica, REPLICA3, max_lag_bytes=1000)
    assert refusal in result["refusal"]
    assert "Repair it first (`patronictl list`" in result["refusal"]


def test_a_member_patroni_does_not_know_is_refused():
    assert check(LEADER, REPLICA2)["refusal"].startswith("db_3 is not in Patroni's cluster")


def test_a_member_outside_the_inventory_is_refused():
    outsider = {**REPLICA2, "name": "db_9"}
    assert "not in the inventory's group (db_9)" in check(LEADER, REPLICA2, REPLICA3, outsider)["refusal"]


def test_bad_input_is_refused_clearly():
    with pytest.raises(AnsibleFilterError, match="expects the list of GET /cluster results"):
        patroni_cluster_check("not a list", MEMBERS)
    with pytest.raises(AnsibleFilterError, match="max_lag_bytes must be an integer"):
        patroni_cluster_check([], MEMBERS, max_lag_bytes="lots")
