"""The monitoring scenario's checks (molecule/monitoring/tests/test_monitoring.py), run against the lab's
Prometheus on mon1, which scrapes every lab host.

`./dev test` runs them here, on the monitoring site.yml built, instead of converging the scenario's two instances
a second time; `./dev molecule monitoring` still runs them there while working on the roles. What the lab must
show comes from its inventory: a target per host of each group of the prometheus role's scrape jobs, each
exporter listening on its host's private address, every exporter's metrics. The sample rows of the console check
are served by cache1's textfile collector for that test only; the refusals run molecule/monitoring/refusals.yml
on mon1 alone, in check mode. Every check runs here: the one alert wait, Redis stopped on cache1 until
WebstackRedisDown fires and reaches Alertmanager, then cleared, takes about a minute at the lab's intervals and is
the only one of the lab's that reads Alertmanager. tests/lab/test_monitoring.py keeps the lab's own fault tests.

Scenario-only: that an empty Celery queue reads 0 and a waiting one its tasks, which needs a queue no worker takes
tasks from (the lab's workers take every queue's); the other checks run here with the lab's queues as they are.
"""

from collections import defaultdict
from types import SimpleNamespace

import pytest
import testinfra
from conftest import LAB_PARTS, playbook
from scenario_checks import LabInventory, scenario_checks

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): stops Redis; reads every exporter's metrics.
LAB_USES = {
    **dict.fromkeys(LAB_PARTS, "shared"),
    "cache": "exclusive",
    "cache_config": "exclusive",
    "monitoring": "exclusive",
}

SCENARIO_ONLY = ("test_empty_celery_queues_read_0_and_a_waiting_one_its_tasks",)

globals().update(scenario_checks("monitoring", SCENARIO_ONLY))

INVENTORY = LabInventory()
MONITORING_HOST = INVENTORY.hosts("monitoring")[0]
REDIS_HOST = INVENTORY.hosts("redis")[0]
SCRAPE_JOBS = INVENTORY.variables(MONITORING_HOST, "prometheus")["prometheus_scrape_jobs"]


def refusals(*args: str) -> tuple[int, str]:
    return playbook(*args, "--limit", MONITORING_HOST, "molecule/monitoring/refusals.yml", timeout=300)


@pytest.fixture(scope="module")
def tier():
    targets = {(job["name"], host) for job in SCRAPE_JOBS for host in INVENTORY.hosts(job["group"])}
    # Each job's port on its hosts; a probe job's (the blackbox exporter's) on the monitoring host, which probes.
    listening_ports = defaultdict(set)
    for job in SCRAPE_JOBS:
        for host in [MONITORING_HOST] if "probe" in job else INVENTORY.hosts(job["group"]):
            listening_ports[f"lab-{host}"].add(job["port"])
    return SimpleNamespace(
        name="lab-monitoring",
        mon=testinfra.get_host(f"podman://lab-{MONITORING_HOST}"),
        cache=testinfra.get_host(f"podman://lab-{REDIS_HOST}"),
        cache_instance=REDIS_HOST,
        targets=targets,
        listening_ports={container: sorted(ports) for container, ports in listening_ports.items()},
        runs_every_exporter=True,
        refusals=refusals,
    )


@pytest.fixture(scope="module")
def waiting_tasks():
    """The lab's queues are left as its workers keep them."""
    return None


@pytest.fixture(scope="module")
def host(tier):
    return tier.mon
