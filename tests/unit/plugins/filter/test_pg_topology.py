"""The primary is read from what the members report, never guessed."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.pg_topology import pg_topology


def test_first_build_makes_the_bootstrap_host_primary():
    result = pg_topology({"db1": "absent", "db2": "absent"}, "db2")
    assert result["primary"] == "db2"
    assert result["standbys"] == ["db1"]
    assert result["bootstrap"] is True
    assert result["error"] is None


def test_running_primary_wins_over_the_inventory():
    result = pg_topology({"db1": "running-standby", "db2": "running-primary", "db3": "absent"}, "db1")
    assert result["primary"] == "db2"
    assert result["standbys"] == ["db1", "db3"]
    assert result["bootstrap"] is False


def test_running_primary_wins_over_a_stopped_former_primary():
    result = pg_topology({"db1": "stopped-primary", "db2": "running-primary"}, "db1")
    assert result["primary"] == "db2"
    assert result["standbys"] == ["db1"]


def test_a_stopped_cluster_keeps_its_primary():
    result = pg_topology({"db1": "stopped-standby", "db2": "stopped-primary"}, "db1")
    assert result["primary"] == "db2"


@pytest.mark.parametrize(
    ("states", "message"),
    [
        ({"db1": "running-primary", "db2": "running-primary"}, "two primaries accept writes: db1, db2"),
        ({"db1": "stopped-primary", "db2": "stopped-primary"}, "several stopped members were primaries"),
        ({"db1": "running-standby", "db2": "absent"}, "standbys db1 have no primary"),
    ],
)
def test_unsafe_clusters_are_refused_with_what_to_do(states, message):
    result = pg_topology(states, "db1")
    assert message in result["error"]
    assert result["primary"] is None
    assert result["standbys"] == []


def test_bad_input_is_refused():
    with pytest.raises(AnsibleFilterError, match="unknown member states"):
        pg_topology({"db1": "primary"}, "db1")
    with pytest.raises(AnsibleFilterError, match="bootstrap primary 'db9'"):
        pg_topology({"db1": "absent"}, "db9")
