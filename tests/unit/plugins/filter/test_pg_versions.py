"""Every member of a cluster runs one PostgreSQL major version, its own release's unless the inventory says."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.pg_versions import pg_versions


def host(release=None, **inventory):
    return {**inventory, **({"ansible_facts": {"distribution_release": release}} if release else {})}


def test_each_release_brings_its_version():
    assert pg_versions(["db1", "db2"], {"db1": host("trixie"), "db2": host("trixie")}, 15) == {
        "versions": {"db1": 17, "db2": 17},
        "version": 17,
        "error": None,
    }
    assert pg_versions(["db1"], {"db1": host("bookworm")}, 17)["version"] == 15


def test_mixed_releases_are_refused_with_each_members_version():
    result = pg_versions(["db1", "db2"], {"db1": host("bookworm"), "db2": host("trixie")}, 15)
    assert result["version"] is None
    assert "db1 15 (Debian bookworm), db2 17 (Debian trixie)" in result["error"]
    assert "one Debian release" in result["error"]


def test_the_inventory_wins_over_the_release():
    hostvars = {"db1": host("bookworm", postgresql_version=17), "db2": host("trixie")}
    assert pg_versions(["db1", "db2"], hostvars, 15)["version"] == 17
    hostvars = {"db1": host("trixie", postgresql_version="15"), "db2": host("trixie")}
    assert "db1 15 (set in the inventory)" in pg_versions(["db1", "db2"], hostvars, 15)["error"]


def test_a_member_without_facts_takes_the_default_or_is_refused():
    result = pg_versions(["db1", "db2"], {"db1": host(), "db2": host("bookworm")}, 15)
    assert result == {"versions": {"db1": 15, "db2": 15}, "version": 15, "error": None}
    with pytest.raises(AnsibleFilterError, match="db1 has no postgresql_version and no gathered fact"):
        pg_versions(["db1", "db2"], {"db1": host(), "db2": host("bookworm")})


def test_an_unsupported_release_is_named():
    with pytest.raises(AnsibleFilterError, match=r"'buster' is not supported.*Debian 12 \(bookworm\)"):
        pg_versions(["db1"], {"db1": host("buster")}, 15)
