"""The celery scenario's checks (molecule/celery/tests/test_celery.py), run against the lab's Celery host.

`./dev test` runs them here, on the host of the inventory's celery group that runs beat (worker1), with the
queues, time limits and environment the inventory gives it and the database on the current primary, instead of
converging the scenario's instance a second time; `./dev molecule celery` still runs all of them on that
instance. The preflight checks run the role on the controller against the scenario's inventory of local hosts,
as in the scenario. On the lab no earlier converge left a unit of an unlisted queue, so the check that such
units are gone only finds none.

Scenario-only:
- test_a_task_past_its_time_limit_is_stopped_and_never_runs_again: the lab keeps the role's 300 s limit, so
  the check would wait four and a half minutes for a task to reach it.
"""

from types import SimpleNamespace

import pytest
import testinfra
from conftest import primary
from scenario_checks import LabInventory, scenario_checks, systemd_timespan

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): restarts the workers; their tasks need the
# database and the broker; its checks write to the primary it finds when it starts (`tier.database`).
LAB_USES = {"app": "exclusive", "cache": "shared", "database": "shared", "primary": "shared"}

SCENARIO_ONLY = ("test_a_task_past_its_time_limit_is_stopped_and_never_runs_again",)

globals().update(scenario_checks("celery", SCENARIO_ONLY))

INVENTORY = LabInventory()
BEAT_HOST = next(name for name in INVENTORY.hosts("celery") if INVENTORY.variables(name, "celery")["celery_beat"])


@pytest.fixture(scope="module")
def host() -> testinfra.host.Host:
    return testinfra.get_host(f"podman://lab-{BEAT_HOST}")


@pytest.fixture(scope="module")
def tier() -> SimpleNamespace:
    variables = INVENTORY.variables(BEAT_HOST, "celery")
    return SimpleNamespace(
        database=testinfra.get_host(f"podman://lab-{primary()}"),
        hostname=BEAT_HOST,  # lab/lab.sh names each container's host after the inventory
        queues=tuple(queue["name"] for queue in variables["celery_queues"]),
        db_password=variables["webstack_lab_shop_db_password"],
        app_env=variables["celery_app_env"],
        soft_time_limit=int(variables["celery_soft_time_limit_seconds"]),
        time_limit=int(variables["celery_longest_task_seconds"]),
        stop_timeout=systemd_timespan(int(variables["celery_stop_timeout"])),
    )
