"""The primary is read from what the members report, never guessed."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.pg_topology import pg_mode_mismatch, pg_topology


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


@pytest.mark.parametrize(
    ("services", "modes", "mismatches"),
    [
        ({"db1": "postgresql@15-main.service", "db2": None}, {"db1": "none", "db2": "none"}, []),
        (
            {"db1": "patroni@15-main.service", "db2": "patroni@15-main.service"},
            {"db1": "patroni", "db2": "patroni"},
            [],
        ),
        (
            {"db1": "patroni@15-main.service", "db2": "patroni@15-main.service"},
            {"db1": "none"},
            [
                "db1's server runs under patroni@15-main.service but postgresql_ha is none for it",
                "db2's server runs under patroni@15-main.service but postgresql_ha is none for it",
            ],
        ),
        (
            {"db1": "postgresql@17-main.service"},
            {"db1": "patroni"},
            ["db1's server runs under postgresql@17-main.service but postgresql_ha is patroni for it"],
        ),
        # started by hand, or by something else: not a mode to compare with
        ({"db1": "session-3.scope", "db2": "pytest.service"}, {"db1": "patroni", "db2": "none"}, []),
    ],
    ids=["manual", "patroni", "patroni-run-inventory-none", "debian-run-inventory-patroni", "unknown-unit"],
)
def test_a_server_run_by_the_other_modes_unit_is_a_mismatch(services, modes, mismatches):
    assert pg_mode_mismatch(services, modes) == mismatches


def test_an_unknown_mode_is_an_error():
    with pytest.raises(AnsibleFilterError, match="postgresql_ha 'auto'"):
        pg_mode_mismatch({"db1": None}, {"db1": "auto"})
