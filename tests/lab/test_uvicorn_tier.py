"""The uvicorn scenario's checks (molecule/uvicorn/tests/test_uvicorn.py), run against the lab's app servers.

`./dev test` runs them here, on the app servers site.yml built, instead of converging the scenario's instance a
second time; `./dev molecule uvicorn` still runs all of them on that instance. Each check runs on every server of
the inventory's app group, except the restart and the order, which run on the first only (nginx sends that
server's share of the traffic to the other while it restarts).

Scenario-only:
- test_releases_current_and_previous: needs side_effect.yml's deploy of 1.0.1 keeping one old release, then its
  rollback; which older releases the lab keeps depends on the deploys run before.
"""

from types import SimpleNamespace

import pytest
import testinfra
from scenario_checks import LabInventory, scenario_checks, systemd_timespan

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): restarts app1's server.
LAB_USES = {"app": "exclusive", "cache": "shared", "database": "shared"}

SCENARIO_ONLY = ("test_releases_current_and_previous",)
FIRST_SERVER_ONLY = ("test_restart_becomes_ready_again", "test_order_round_trip")

globals().update(scenario_checks("uvicorn", SCENARIO_ONLY))

INVENTORY = LabInventory()
APP_SERVERS = INVENTORY.hosts("app")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "server" in metafunc.fixturenames:
        servers = APP_SERVERS[:1] if metafunc.function.__name__ in FIRST_SERVER_ONLY else APP_SERVERS
        metafunc.parametrize("server", servers, indirect=True, scope="module")


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def host(server: str) -> testinfra.host.Host:
    return testinfra.get_host(f"podman://lab-{server}")


@pytest.fixture(scope="module")
def address(host: testinfra.host.Host) -> str:
    return host.check_output("hostname -I").split()[0]


@pytest.fixture(scope="module")
def tier(server: str) -> SimpleNamespace:
    variables = INVENTORY.variables(server, "uvicorn")
    return SimpleNamespace(
        release=variables["uvicorn_app_version"],
        db_password=variables["webstack_lab_shop_db_password"],
        stop_timeout=systemd_timespan(int(variables["uvicorn_stop_timeout"])),
    )
