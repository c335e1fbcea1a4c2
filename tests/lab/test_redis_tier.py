"""The redis scenario's checks (molecule/redis/tests), run against the lab's Redis on cache1.

`./dev test` runs them here, on the Redis site.yml built, instead of converging the scenario's instance a second
time; `./dev molecule redis` still runs them all on that instance while working on the role. The role's re-runs
(refused inputs, an extra user added then removed) apply tests/lab/redis.yml to cache1 only.

Scenario-only, as they would disturb the lab:
- test_celery_works_on_its_own_keys: its probe worker would join the shop's workers on the lab's broker (they
  would take its tasks, it would answer their pings).
- test_separate_cache_and_broker_instances_on_one_host: it splits the lab's Redis in two instances.
"""

import json
from types import SimpleNamespace

import pytest
import testinfra
from conftest import REPO, playbook
from scenario_checks import LabInventory, scenario_checks, scenario_module

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): adds and removes a Redis user, loads a new
# certificate.
LAB_USES = {"cache": "shared", "cache_config": "exclusive"}

SCENARIO_ONLY = ("test_celery_works_on_its_own_keys", "test_separate_cache_and_broker_instances_on_one_host")
# Under the shop's keys (redis_app_keys ~shop:*), apart from the ones it uses; deleted after the module.
CACHE_PREFIX = "shop:redis-tier-test:"

# Importable: test_redis_instances imports its helpers from test_redis.
globals().update(scenario_checks("redis", SCENARIO_ONLY, importable=True))
redis_checks = scenario_module(REPO / "molecule" / "redis" / "tests" / "test_redis.py", importable=True)

INVENTORY = LabInventory()
REDIS_HOST = INVENTORY.hosts("redis")[0]


def converge(extra_vars: dict) -> tuple[int, str]:
    return playbook("tests/lab/redis.yml", "--limit", REDIS_HOST, "-e", json.dumps(extra_vars))


@pytest.fixture(scope="module")
def tier():
    settings = INVENTORY.variables(REDIS_HOST, "redis")
    tier = SimpleNamespace(
        host=testinfra.get_host(f"podman://lab-{REDIS_HOST}"),
        passwords={user: settings[f"redis_{user}_password"] for user in ("app", "celery", "admin")},
        # The exporter's user: a test that adds a user keeps it.
        extra_users=settings["redis_extra_users"],
        cache_prefix=CACHE_PREFIX,
        # The shop's workers listen on db 1's remote control channel: the checks publish on one nobody uses.
        celery_probe_db=15,
        converge=converge,
        # The lab's CA on the controller (redis_tls_ca_dir).
        controller_ca=REPO / ".cache" / "webstack-ca" / "ca.crt",
    )
    yield tier
    keys = redis_checks.redis(tier, "--scan", "--pattern", f"{CACHE_PREFIX}*", user="admin").split()
    if keys:
        redis_checks.redis(tier, "DEL", *keys, user="admin")
