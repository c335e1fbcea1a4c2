# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from ansible_collections.opsforge.webstack.plugins.filter.patroni_switchover_check import patroni_switchover_check

MEMBERS = ["db-1", "db-2"]
CLUSTER = {
    "members": [
        {
            "name": "db_1",
            "role": "leader",
            "state": "running",
            "timeline": 4,
            "api_url": "https://10.0.0.11:8008/patroni",
        },
        {"name": "db_2", "role": "replica", "state": "streaming", "timeline": 4, "lag": 0},
    ]
}


def answers(*results):
    return [{"item": name, **result} for name, result in zip(MEMBERS, results)]


def test_the_first_answer_decides_and_names_are_patronis():
    check = patroni_switchover_check(
        answers({"status": -1, "msg": "Connection refused"}, {"status": 200, "json": CLUSTER}), MEMBERS, "db-1", "db-2"
    )
    assert check == {
        "leader": "db_1",
        "candidate": "db_2",
        "leader_api": "https://10.0.0.11:8008",
        "apis": {"db-1": "https://10.0.0.11:8008"},
        "members": {"db_1": "leader/running", "db_2": "replica/streaming"},
        "refusal": "",
    }


def test_no_answer_is_refused_with_the_errors():
    check = patroni_switchover_check(
        answers({"status": -1, "msg": "Connection refused"}, {"status": 503, "msg": "Status code was 503"}),
        MEMBERS,
        "db-1",
        "db-2",
    )
    assert (
        "no member's Patroni REST API answered GET /cluster (db-1: -1 Connection refused; db-2: 503"
        in (check["refusal"])
    )


def test_a_target_patroni_does_not_know_is_refused():
    check = patroni_switchover_check(answers({"status": 200, "json": CLUSTER}), [*MEMBERS, "db-3"], "db-1", "db-3")
    assert check["refusal"].startswith("db_3 is not a member of Patroni's cluster")


def test_a_member_outside_the_inventory_is_refused():
    extra = {"name": "db_9", "role": "replica", "state": "streaming", "timeline": 4, "lag": 0}
    state = {"members": [*CLUSTER["members"], extra]}
    check = patroni_switchover_check(answers({"status": 200, "json": state}), MEMBERS, "db-1", "db-2")
    assert "not in the inventory's group (db_9)" in check["refusal"]


def test_the_lag_bound_applies():
    lagging = {"members": [CLUSTER["members"][0], {**CLUSTER["members"][1], "lag": 100}]}
    check = patroni_switchover_check(
        answers({"status": 200, "json": lagging}), MEMBERS, "db-1", "db-2", max_lag_bytes=10
    )
    assert "lags 100 bytes" in check["refusal"]
