# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

import pytest
from ansible_collections.opsforge.webstack.plugins.module_utils.patroni import (
    Response,
    api_base,
    switchover_outcome,
    switchover_refusal,
)


def member(name, role, state="streaming", lag=0, timeline=3, **extra):
    return {"name": name, "role": role, "state": state, "lag": lag, "timeline": timeline, **extra}


def cluster(*members, **top):
    return {"members": list(members), **top}


HEALTHY = cluster(member("db1", "leader", "running"), member("db2", "replica"))


def test_a_healthy_cluster_switches_over():
    assert switchover_refusal(HEALTHY, "db1", "db2", 1024) == ""


def test_patroni_3_0_replicas_say_running():
    assert (
        switchover_refusal(
            cluster(member("db1", "leader", "running"), member("db2", "replica", "running")), "db1", "db2", 1024
        )
        == ""
    )


@pytest.mark.parametrize(
    ("state", "fragment"),
    [
        (cluster(member("db1", "leader", "running"), member("db2", "replica"), pause=True), "patronictl resume"),
        (
            cluster(
                member("db1", "leader", "running"),
                member("db2", "replica"),
                scheduled_switchover={"at": "2026-12-06T01:00:00+00:00", "from": "db1", "to": "db2"},
            ),
            "already has a switchover scheduled (db1 to db2",
        ),
        (cluster(member("db1", "replica", "stopped"), member("db2", "replica")), "has no leader (members: db1"),
        (cluster(member("db1", "standby_leader", "running"), member("db2", "replica")), "standby cluster"),
        (cluster(member("db2", "leader", "running"), member("db1", "replica")), "Patroni's leader is db2, but db1"),
        (cluster(member("db1", "leader", "stopping"), member("db2", "replica")), "is stopping, not running"),
        (cluster(member("db1", "leader", "running")), "db2 is not a member of Patroni's cluster"),
        (cluster(member("db1", "leader", "running"), member("db2", "replica", "starting")), "db2 is starting"),
        (
            cluster(member("db1", "leader", "running"), member("db2", "replica", tags={"nofailover": True})),
            "nofailover",
        ),
        (cluster(member("db1", "leader", "running"), member("db2", "replica", lag=4096)), "lags 4096 bytes"),
        (cluster(member("db1", "leader", "running"), member("db2", "replica", lag="unknown")), "lags unknown bytes"),
        (cluster(member("db1", "leader", "running"), member("db2", "replica", timeline=2)), "on timeline 2"),
        (
            cluster(member("db1", "leader", "running"), member("db2", "replica"), member("db3", "sync_standby")),
            "not a synchronous standby (db3)",
        ),
    ],
)
def test_refusals(state, fragment):
    assert fragment in switchover_refusal(state, "db1", "db2", 1024)


def test_the_leader_is_no_candidate():
    assert "already Patroni's leader" in switchover_refusal(HEALTHY, "db1", "db1", 1024)


def test_a_synchronous_standby_is_a_candidate():
    state = cluster(member("db1", "leader", "running"), member("db2", "sync_standby"))
    assert switchover_refusal(state, "db1", "db2", 1024) == ""


def test_api_base():
    assert api_base("https://10.0.0.11:8008/patroni") == "https://10.0.0.11:8008"
    assert api_base("https://10.0.0.11:8008/") == "https://10.0.0.11:8008"


@pytest.mark.parametrize(
    ("response", "fragment"),
    [
        (Response(200, 'Successfully switched over to "db2"'), None),
        (Response(401, "no auth header received"), "refused the credentials (401)"),
        (Response(202, "Switchover scheduled"), "scheduled the switchover"),
        (Response(412, "candidate name does not match with sync_standby"), "(412: candidate name does not match"),
        (Response(503, "Switchover failed"), "did not switch over from db1 to db2 (503"),
    ],
)
def test_switchover_outcome(response, fragment):
    outcome = switchover_outcome(response, "db1", "db2")
    assert outcome is None if fragment is None else fragment in outcome
