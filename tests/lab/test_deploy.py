"""deploy.yml refuses bad input before touching a node, rolls a release through under load, and in check mode
reports the switch it would make and switches nothing.

How many requests fail during a deploy is a reliability target, measured and printed by
tests/benchmarks/deploy_under_load.py, not asserted here.
"""

import re
import shutil
import subprocess

from conftest import REPO, failure, on_host, playbook, release_of, site_load

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): rolls releases through the app servers under
# load.
LAB_USES = {"app": "exclusive", "cache": "shared", "database": "shared"}

APP_SERVERS = ["app1", "app2"]
DEPLOYED_HOSTS = [*APP_SERVERS, "worker1"]


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
        load = site_load()
        load.start()
        rc, out = playbook("playbooks/deploy.yml", "-e", f"deploy_version={version}")
        load.finish()
        assert rc == 0, failure(out)
        served = [record for record in load.records if record[2]]
        assert len(served) > 100, "the platform stopped serving during the deploy"
        assert {host: release_of(host) for host in APP_SERVERS} == {"app1": version, "app2": version}
        assert on_host("lb1", "webstack-upstream status") == "app1 active\napp2 active"


def build_release(tmp_path, version, path, old, new):
    """A copy of the lab's wheelhouse plus release VERSION of the shop, with OLD replaced by NEW in PATH."""
    source = tmp_path / "src"
    leftovers = shutil.ignore_patterns("build", "__pycache__", "*.egg-info")
    shutil.copytree(REPO / "examples" / "shop", source, ignore=leftovers)
    changed = source / "shop" / path
    assert old in changed.read_text()
    changed.write_text(changed.read_text().replace(old, new, 1))
    project = source / "pyproject.toml"
    project.write_text(re.sub(r'(?m)^version = ".*"$', f'version = "{version}"', project.read_text()))
    wheelhouse = tmp_path / "wheelhouse"
    shutil.copytree(REPO / ".cache" / "wheelhouse", wheelhouse)
    builder = REPO / ".cache" / "venvs" / "wheelhouse-py" / "bin" / "python"
    subprocess.run(
        [builder, "-m", "pip", "wheel", "-q", "--no-deps", "--wheel-dir", wheelhouse, source], check=True, timeout=300
    )
    return f"uvicorn_app_wheelhouse={wheelhouse} celery_app_wheelhouse={wheelhouse}"


def test_a_release_that_never_gets_ready_is_rolled_back_and_stops_the_rollout(tmp_path):
    wheelhouse = build_release(tmp_path, "1.0.99", "web.py", "ready = all(", "ready = False and all(")
    before = {host: release_of(host) for host in APP_SERVERS}
    rc, out = playbook(
        "playbooks/deploy.yml",
        "-e",
        "deploy_version=1.0.99 uvicorn_ready_retries=6 uvicorn_ready_delay=1",
        "-e",
        wheelhouse,
    )
    assert rc != 0
    assert "app1 failed to switch to 1.0.99" in " ".join(out.split())
    # app1 switched, never got ready, went back; app2 and the workers were never switched.
    assert {host: release_of(host) for host in APP_SERVERS} == before
    assert on_host("app1", "readlink /srv/shop/previous") == "/srv/shop/releases/1.0.99"
    assert on_host("worker1", "readlink /srv/shop/current") == f"/srv/shop/releases/{before['app2']}"
    assert on_host("lb1", "webstack-upstream status") == "app1 active\napp2 active"


def test_workers_that_never_get_ready_are_rolled_back(tmp_path):
    # The workers of 1.0.98 exit at start; its web app and beat are fine.
    anchor = "from celery import Celery\n"
    crash = 'import sys\nif "worker" in sys.argv:\n    raise SystemExit("built never to get ready")\n'
    wheelhouse = build_release(tmp_path, "1.0.98", "celery_app.py", anchor, anchor + crash)
    before = on_host("worker1", "readlink /srv/shop/current")
    rc, out = playbook(
        "playbooks/deploy.yml",
        "--limit",
        "worker1",
        "-e",
        "deploy_version=1.0.98 celery_ready_retries=6 celery_ready_delay=1",
        "-e",
        wheelhouse,
    )
    assert rc != 0
    assert "The workers of worker1 failed to switch to 1.0.98" in " ".join(out.split())
    assert "celery-default.service" in out  # named as not ready
    assert on_host("worker1", "readlink /srv/shop/current") == before
    assert on_host("worker1", "readlink /srv/shop/previous") == "/srv/shop/releases/1.0.98"
    assert on_host("worker1", "systemctl is-active celery-default celery-beat") == "active\nactive"


def release_links():
    """Each app and worker host's current and previous release."""
    return {
        host: on_host(host, "readlink /srv/shop/current; readlink /srv/shop/previous || true")
        for host in DEPLOYED_HOSTS
    }


def started_at():
    """When each app and worker service last started: a restart changes it."""
    units = {"app1": "shop", "app2": "shop", "worker1": "celery-default"}
    return {
        host: on_host(host, f"systemctl show --property=ActiveEnterTimestamp {unit}") for host, unit in units.items()
    }


def test_deploy_in_check_mode_reports_the_switch_and_switches_nothing():
    before = release_links()
    running = before["app1"].splitlines()[0].rsplit("/", 1)[-1]
    version = "1.0.0" if running == "1.0.1" else "1.0.1"
    upstream = on_host("lb1", "webstack-upstream status")
    started = started_at()
    rc, out = playbook("playbooks/deploy.yml", "--check", "-e", f"deploy_version={version}")
    assert rc == 0, failure(out)
    assert re.search(
        r"TASK \[opsforge\.webstack\.python_app : Switch the current symlink\][^\n]*\n[^\n]*\nchanged: \[app1\]", out
    )
    assert release_links() == before
    assert on_host("lb1", "webstack-upstream status") == upstream
    assert started_at() == started
