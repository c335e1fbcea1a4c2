# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""switchover.yml's choice of target and its refusals, before anything is paused."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.switchover_plan import switchover_plan

MEMBERS = ["lab-db1", "lab-db2", "lab-db3"]


def replica(name, lag, state="streaming"):
    return {"application_name": name, "state": state, "lag_bytes": lag}


def plan(replicas, **kwargs):
    args = {"members": MEMBERS, "primary": "lab-db1", "group": "postgres", "standbys": ["lab-db2", "lab-db3"]}
    args.update(kwargs)
    return switchover_plan(replicas, **args)


def test_chooses_the_streaming_standby_with_the_least_lag():
    result = plan([replica("lab_db2", 900), replica("lab_db3", 10), replica("other", 0)])
    assert result["target"] == "lab-db3"
    assert result["streaming"] == ["lab-db3", "lab-db2"]
    assert result["healthy"] == ["lab-db3", "lab-db2"]
    assert result["lags"] == {"lab-db3": 10, "lab-db2": 900}
    assert result["old"] == "lab-db1" and result["refusal"] == ""


def test_a_requested_target_wins():
    result = plan([replica("lab_db2", 900), replica("lab_db3", 10)], requested="lab-db2")
    assert result["target"] == "lab-db2" and result["refusal"] == ""


def test_the_primary_as_target_is_refused():
    assert plan([replica("lab_db2", 0)], requested="lab-db1")["refusal"] == (
        "lab-db1 is already the primary. Pick a standby (lab-db2, lab-db3) or leave switchover_target unset."
    )


def test_a_target_outside_the_cluster_is_refused():
    refusal = plan([replica("lab_db2", 0)], requested="app1")["refusal"]
    assert refusal == "app1 is not a member of group 'postgres' (lab-db1, lab-db2, lab-db3)."


def test_no_healthy_standby_is_refused():
    result = plan([replica("lab_db2", 99), replica("lab_db3", 0, state="catchup")], max_lag_bytes=10)
    assert result["target"] == ""
    assert result["refusal"] == (
        "there is no healthy standby: none streams from lab-db1 within 10 bytes (streaming: {'lab-db2': 99}). "
        "Repair replication first (site.yml rejoins standbys)."
    )


def test_a_target_that_does_not_stream_is_refused():
    refusal = plan([replica("lab_db2", 0), replica("lab_db3", 0, state="catchup")], requested="lab-db3")["refusal"]
    assert refusal.startswith("lab-db3 does not stream from lab-db1 (pg_stat_replication shows ['lab_db2', 'lab_db3'])")


def test_a_lagging_target_is_refused():
    refusal = plan([replica("lab_db2", 0), replica("lab_db3", 99)], requested="lab-db3", max_lag_bytes=10)["refusal"]
    assert refusal == "lab-db3 is 99 bytes behind, more than switchover_max_lag_bytes=10. Wait for it to catch up."


def test_a_long_transaction_is_refused():
    oldest = {"age": 7.25, "pid": 42, "usename": "shop", "application_name": "psql"}
    refusal = plan([replica("lab_db2", 0)], oldest=oldest, max_xact_seconds=1.0)["refusal"]
    assert refusal == (
        "a transaction on lab-db1 has been open for 7.2 s (pid 42, user shop, application 'psql'), "
        "more than switchover_max_xact_seconds=1.0: PAUSE would wait for it. "
        "Let it finish (or end it) and run this again."
    )
    assert plan([replica("lab_db2", 0)], oldest={"age": 0.5}, max_xact_seconds=1.0)["refusal"] == ""
    assert plan([replica("lab_db2", 0)], oldest={}, max_xact_seconds=1.0)["refusal"] == ""


def test_the_refusals_come_in_order():
    # already the primary comes before everything else, even with nothing streaming
    assert "already the primary" in plan([], requested="lab-db1")["refusal"]
    # no healthy standby comes before a long transaction
    assert "no healthy standby" in plan([], oldest={"age": 99})["refusal"]


def test_refuses_what_is_not_a_list():
    with pytest.raises(AnsibleFilterError):
        switchover_plan({"a": 1}, MEMBERS, "lab-db1", "postgres", [])
