"""The lab's helper reads hosts and mirrors correctly and refuses what cannot work."""

import importlib.util
from pathlib import Path

import pytest

LAB = Path(__file__).resolve().parents[3] / "lab"
SPEC = importlib.util.spec_from_file_location("labinfo", LAB / "labinfo.py")
labinfo = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(labinfo)


def test_lab_hosts_are_numbered_inside_the_subnet(tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    db1: {lab_host_number: 41}\n    lb1: {lab_host_number: 10}\n")
    assert labinfo.lab_hosts(inventory, "10.9.8.0/24") == [("db1", "10.9.8.41"), ("lb1", "10.9.8.10")]


def test_lab_host_outside_the_subnet_is_refused(tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    db1: {lab_host_number: 300}\n")
    with pytest.raises(SystemExit, match="does not fit"):
        labinfo.lab_hosts(inventory, "10.9.8.0/24")


def test_the_lab_inventory_fits_its_default_subnet():
    hosts = labinfo.lab_hosts(LAB.parent / "inventories" / "lab" / "hosts.yml", "10.77.0.0/24")
    names = [name for name, _address in hosts]
    assert names == ["lb1", "app1", "app2", "worker1", "db1", "db2", "cache1", "s3", "drill1", "mon1"]
    assert len({address for _name, address in hosts}) == len(hosts)


def test_the_image_carries_the_common_roles_base_packages():
    packages = labinfo.base_packages(LAB.parent / "roles" / "common" / "defaults" / "main.yml")
    assert {"curl", "needrestart", "locales"} <= set(packages)
    assert all(package and "," not in package for package in packages)


@pytest.fixture
def apt_sources(tmp_path, monkeypatch):
    sources = tmp_path / "sources.list.d"
    sources.mkdir()
    monkeypatch.setattr(labinfo, "SOURCES_DIR", sources)
    monkeypatch.setattr(labinfo, "SOURCES_LIST", tmp_path / "sources.list")
    return tmp_path


# A release the host's sources do not name (a trixie image built on a bookworm host) comes from the host's own mirror.
@pytest.mark.parametrize("suite", ["bookworm", "trixie"])
def test_mirrors_from_deb822_sources(apt_sources, suite):
    (apt_sources / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\n# a comment\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\n\nTypes: deb\nURIs: http://mirror.example/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n"
    )
    assert labinfo.apt_mirrors(suite) == {
        "main": "http://mirror.example/debian",
        "security": "http://mirror.example/debian-security",
    }


def test_mirrors_from_one_line_sources(apt_sources):
    (apt_sources / "sources.list").write_text(
        "deb [arch=amd64] http://mirror.example/debian bookworm main\n"
        "deb http://mirror.example/security bookworm-security main\n"
    )
    assert labinfo.apt_mirrors("bookworm")["main"] == "http://mirror.example/debian"


def test_the_suites_own_source_comes_first(apt_sources):
    (apt_sources / "sources.list").write_text(
        "deb http://mirror.example/debian bookworm main\ndeb http://other.example/debian trixie main\n"
    )
    assert labinfo.apt_mirrors("trixie")["main"] == "http://other.example/debian"
    assert labinfo.apt_mirrors("bookworm")["main"] == "http://mirror.example/debian"


def test_no_debian_source_says_what_to_add(apt_sources):
    (apt_sources / "sources.list").write_text("# nothing\n")
    with pytest.raises(SystemExit, match="no Debian apt source"):
        labinfo.apt_mirrors("bookworm")
