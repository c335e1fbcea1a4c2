"""The redis scenario's checks (molecule/redis/tests), run against the lab's Redis on cache1.

`./dev test` runs them here, on the Redis site.yml built, instead of converging the scenario's instance a second
time; `./dev molecule redis` still runs them all on that instance while working on the role. The role's re-runs
(refused inputs, an extra user added then removed) apply tests/lab/redis.yml to cache1 only.

Scenario-only, as they would disturb the lab:
- test_celery_works_on_its_own_keys: its probe worker would join the shop's workers on the lab's broker (they
  would take its tasks, it would answer their pings).
- test_separate_cache_and_broker_instances_on_one_host: it splits the lab's Redis in two instances.
"""

import importlib.util
import json
import sys
from types import ModuleType, SimpleNamespace

import pytest
import testinfra
import yaml
from conftest import REPO, playbook

CHECKS = REPO / "molecule" / "redis" / "tests"
SCENARIO_ONLY = {"test_celery_works_on_its_own_keys", "test_separate_cache_and_broker_instances_on_one_host"}
# Under the shop's keys (redis_app_keys ~shop:*), apart from the ones it uses; deleted after the module.
CACHE_PREFIX = "shop:redis-tier-test:"


def load_checks(name: str) -> ModuleType:
    # Under its own name: test_redis_instances imports its helpers from test_redis.
    spec = importlib.util.spec_from_file_location(name, CHECKS / f"{name}.py")
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


redis_checks = load_checks("test_redis")
for checks in (redis_checks, load_checks("test_redis_instances")):
    globals().update(
        {name: check for name, check in vars(checks).items() if name.startswith("test_") and name not in SCENARIO_ONLY}
    )


def converge(extra_vars: dict) -> tuple[int, str]:
    return playbook("tests/lab/redis.yml", "--limit", "cache1", "-e", json.dumps(extra_vars))


@pytest.fixture(scope="module")
def tier():
    settings = yaml.safe_load((REPO / "inventories" / "lab" / "group_vars" / "all.yml").read_text())
    tier = SimpleNamespace(
        host=testinfra.get_host("podman://lab-cache1"),
        passwords={user: settings[f"redis_{user}_password"] for user in ("app", "celery", "admin")},
        # The exporter's user: a test that adds a user keeps it.
        extra_users=settings["redis_extra_users"],
        cache_prefix=CACHE_PREFIX,
        # The shop's workers listen on db 1's remote control channel: the checks publish on one nobody uses.
        celery_probe_db=15,
        converge=converge,
    )
    yield tier
    keys = redis_checks.redis(tier, "--scan", "--pattern", f"{CACHE_PREFIX}*", user="admin").split()
    if keys:
        redis_checks.redis(tier, "DEL", *keys, user="admin")
