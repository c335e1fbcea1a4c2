"""deploy.yml refuses bad input before touching a node, and rolls a release through under load.

How many requests fail during a deploy is a reliability target, measured and printed by
tests/benchmarks/deploy_under_load.py, not asserted here.
"""

import importlib.util

from conftest import REPO, on_host, playbook, release_of

APP_SERVERS = ["app1", "app2"]
SPEC = importlib.util.spec_from_file_location("load", REPO / "tests" / "benchmarks" / "deploy_under_load.py")
load_module = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(load_module)


def current_links():
    return {host: on_host(host, "readlink /srv/shop/current") for host in APP_SERVERS}


def test_a_missing_version_is_refused():
    rc, out = playbook("playbooks/deploy.yml")
    assert rc != 0
    assert "Give the release to deploy as -e deploy_version=" in out


def test_an_unknown_version_fails_before_touching_any_node():
    before = current_links()
    rc, out = playbook("playbooks/deploy.yml", "-e", "deploy_version=9.9.9")
    assert rc != 0
    assert "9.9.9" in out and "wheel" in out
    assert current_links() == before
    assert on_host("lb1", "webstack-upstream status") == "app1 active\napp2 active"
    assert "9.9.9" not in on_host("app1", "ls /srv/shop/releases")


def test_a_rolling_deploy_under_load_switches_every_server_and_can_go_back():
    for version in ("1.0.1", "1.0.0"):
        load = load_module.Load("10.77.0.10", threads=4)
        load.start()
        rc, out = playbook("playbooks/deploy.yml", "-e", f"deploy_version={version}")
        load.finish()
        assert rc == 0, out[-3000:]
        served = [record for record in load.records if record[2]]
        assert len(served) > 100, "the platform stopped serving during the deploy"
        assert {host: release_of(host) for host in APP_SERVERS} == {"app1": version, "app2": version}
        assert on_host("lb1", "webstack-upstream status") == "app1 active\napp2 active"
