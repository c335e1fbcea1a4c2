"""An unplanned failover promotes the standby with the most WAL, and never leaves two primaries."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.failover_plan import failover_plan


def standby(lsn, reachable=True):
    return {"reachable": reachable, "state": "running-standby", "writable": False, "receive_lsn": lsn}


GONE = {"reachable": False, "state": None, "writable": False}
DEAD = {"reachable": True, "state": "stopped-primary", "writable": False}
ALIVE = {"reachable": True, "state": "running-primary", "writable": True}


def test_the_standby_with_the_most_wal_is_promoted_when_the_primary_is_gone():
    plan = failover_plan({"db1": GONE, "db2": standby("0/5000000"), "db3": standby("0/5000100")})
    assert plan["refusal"] == ""
    assert plan["target"] == "db3"
    assert plan["old"] == ["db1"]
    assert plan["positions"] == {"db2": "0/5000000", "db3": "0/5000100"}


def test_a_stopped_primary_is_fenced_and_the_requested_standby_promoted():
    plan = failover_plan({"db1": DEAD, "db2": standby("0/5000000"), "db3": standby("0/6000000")}, requested="db2")
    assert (plan["target"], plan["old"], plan["refusal"]) == ("db2", ["db1"], "")


def test_a_primary_that_accepts_writes_is_refused_unless_forced():
    members = {"db1": ALIVE, "db2": standby("0/5000000")}
    refused = failover_plan(members)
    assert refused["target"] is None
    assert "db1 answers and accepts writes" in refused["refusal"] and "failover_force=true" in refused["refusal"]
    forced = failover_plan(members, force=True)
    assert (forced["target"], forced["old"], forced["refusal"]) == ("db2", ["db1"], "")


def test_two_writable_primaries_are_refused_even_when_forced():
    plan = failover_plan({"db1": ALIVE, "db2": ALIVE}, force=True)
    assert "two primaries accept writes (db1, db2)" in plan["refusal"]


@pytest.mark.parametrize(
    ("members", "requested", "said"),
    [
        ({"db1": GONE, "db2": standby("0/1", reachable=False)}, "", "no running standby answers"),
        (
            {"db1": GONE, "db2": standby("0/1")},
            "db9",
            "db9 is not a running standby that answers (running standbys: db2)",
        ),
    ],
)
def test_nothing_to_promote_is_refused_with_the_fix(members, requested, said):
    assert said in failover_plan(members, requested=requested)["refusal"]


def test_a_standby_that_never_received_wal_comes_last():
    plan = failover_plan({"db1": GONE, "db2": standby(None), "db3": standby("0/1")})
    assert plan["target"] == "db3"


def test_only_a_dict_of_members_is_accepted():
    with pytest.raises(AnsibleFilterError):
        failover_plan({})
