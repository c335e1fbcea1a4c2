"""site.yml never takes every node down, and never switches to a release whose migrations failed.

Issue 11, trap 1. A changed environment file (a rotated secret is enough) restarts every app server and
every Celery worker: site.yml restarts them one host at a time, each app server drained from nginx around
its restart (the uvicorn role's rollout entry point, shared with deploy.yml), so nginx always has an
upstream and answers no 5xx. And a release whose migrations fail moves `current` on no host.
"""

import json

import pytest
from conftest import failure, on_host, playbook, release_of, site_load
from test_deploy import build_release

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): restarts the app servers one at a time, runs
# a failing migration. site.yml's PgBouncer play on the app hosts reads the cluster's primary and writes PgBouncer's
# configuration from it: a switchover beside it (test_backup's, 2026-12-07) made that run fail before the migration.
LAB_USES = {"app": "exclusive", "cache": "shared", "database": "shared", "primary": "shared"}

APP_SERVERS = ["app1", "app2"]
APP_HOSTS = ["app1", "app2", "worker1"]
# site.yml on the hosts these tests are about (the data tier is converged already and untouched by them)
LIMIT = ("--limit", ",".join([*APP_HOSTS, "lb1"]))


def probe_env(value):
    """Extra vars that add one variable to the app's environment on every app and worker host."""
    env = "{{ webstack_app_env | combine({'WEBSTACK_ROLLING_PROBE': '" + value + "'}) }}"
    return json.dumps({"uvicorn_app_env": env, "celery_app_env": env})


def down_interval(host, unit="shop"):
    """(left active, active again) of the unit's last restart, on the monotonic clock the lab's containers share."""
    out = on_host(host, f"systemctl show --property=ActiveExitTimestampMonotonic,ActiveEnterTimestampMonotonic {unit}")
    values = dict(line.split("=", 1) for line in out.splitlines())
    return int(values["ActiveExitTimestampMonotonic"]), int(values["ActiveEnterTimestampMonotonic"])


@pytest.fixture
def probe_removed_afterwards():
    yield
    # deploy.yml renders the environment through the same rollout entry point as site.yml, without the base
    # system, nginx and exporter plays around it: the same release again, without the probe.
    rc, out = playbook("playbooks/deploy.yml", "-e", f"deploy_version={release_of('app1')}")
    assert rc == 0, failure(out)
    for host in APP_HOSTS:
        assert "WEBSTACK_ROLLING_PROBE" not in on_host(host, "cat /srv/shop/shared/app.env")


def test_a_changed_environment_restarts_the_app_servers_one_at_a_time_behind_a_drain(probe_removed_afterwards):
    load = site_load()
    load.start()
    rc, out = playbook("playbooks/site.yml", *LIMIT, "-e", probe_env("1"))
    load.finish()
    assert rc == 0, failure(out)
    for host in APP_HOSTS:
        assert 'WEBSTACK_ROLLING_PROBE="1"' in on_host(host, "cat /srv/shop/shared/app.env")
    # Both app servers restarted in this run, and never at the same time.
    first, second = sorted(down_interval(host) for host in APP_SERVERS)
    assert first[1] < second[0], f"the app servers were down together: {first} and {second}"
    served = [record for record in load.records if record[2]]
    assert len(served) > 100, "the platform stopped serving during site.yml"
    server_errors = [error for error in load.errors if error[2].startswith("HTTP 5")]
    assert server_errors == [], server_errors[:10]
    assert on_host("lb1", "webstack-upstream status") == "app1 active\napp2 active"


def test_a_release_whose_migrations_fail_is_switched_to_on_no_host(tmp_path):
    before = {host: on_host(host, "readlink /srv/shop/current") for host in APP_HOSTS}
    releases = {host: release_of(host) for host in APP_SERVERS}
    wheelhouse = build_release(
        tmp_path,
        "1.0.97",
        "migrate.py",
        "    result = migrate(url)\n",
        "    raise SystemExit('shop-migrate: failing on purpose (lab test)')\n",
    )
    rc, out = playbook(
        "playbooks/site.yml", *LIMIT, "-e", "uvicorn_app_version=1.0.97 celery_app_version=1.0.97", "-e", wheelhouse
    )
    assert rc != 0
    assert "failing on purpose" in out
    assert {host: on_host(host, "readlink /srv/shop/current") for host in APP_HOSTS} == before
    assert {host: release_of(host) for host in APP_SERVERS} == releases
    assert on_host("lb1", "webstack-upstream status") == "app1 active\napp2 active"
