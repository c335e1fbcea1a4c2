"""The nginx scenario's checks (molecule/nginx/tests/test_nginx.py), run against the lab's load balancer.

`./dev test` runs them here, on lb1 in front of the lab's uvicorn app servers as site.yml built them, instead of
converging the scenario's instances a second time; `./dev molecule nginx` still runs all of them there.
The refusals and the drain run the role on lb1 alone (site.yml --limit lb1 --tags nginx, the scenario's drain.yml);
the drains end with every app server back in rotation.

Scenario-only, with the reason:
- test_the_app_gets_the_forwarded_headers: needs an app that echoes the request it got (the stand-in);
- test_http_redirects_an_alias_to_the_configured_name, test_the_alias_is_served_over_https: the lab's site has
  no alias;
- test_retries_only_idempotent_requests, test_the_apps_own_429_passes_through_untouched,
  test_requests_in_progress_per_client_limited_with_retry_after: need an app that answers 503 or 429, or holds a
  request for seconds, on demand (the stand-in);
- test_api_rate_limited_with_retry_after: the lab's API limit (500r/s, burst 1000) is sized for its load tests,
  out of reach of a shell loop;
- test_report_only_policy_with_its_report_endpoint: the lab's policy is enforcing, without a report address.
"""

import json
from types import SimpleNamespace

import pytest
import testinfra
from conftest import playbook
from scenario_checks import LabInventory, scenario_checks

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): drains the app servers and reloads nginx
# under traffic.
LAB_USES = {"app": "exclusive", "cache": "shared", "database": "shared"}

SCENARIO_ONLY = (
    "test_the_app_gets_the_forwarded_headers",
    "test_http_redirects_an_alias_to_the_configured_name",
    "test_the_alias_is_served_over_https",
    "test_retries_only_idempotent_requests",
    "test_the_apps_own_429_passes_through_untouched",
    "test_requests_in_progress_per_client_limited_with_retry_after",
    "test_api_rate_limited_with_retry_after",
    "test_report_only_policy_with_its_report_endpoint",
)

globals().update(scenario_checks("nginx", SCENARIO_ONLY))

INVENTORY = LabInventory()
LOAD_BALANCER = INVENTORY.hosts("nginx")[0]
APP_SERVERS = INVENTORY.hosts("app")


def run_role(extra_vars, *args):
    return playbook(
        "playbooks/site.yml", "--limit", LOAD_BALANCER, "--tags", "nginx", "-e", json.dumps(extra_vars), *args
    )


def drain(app, state):
    extra_vars = {"nginx_drain_host": app, "nginx_drain_state": state}
    return playbook("molecule/nginx/drain.yml", "-e", json.dumps(extra_vars))


@pytest.fixture(scope="module")
def host():
    return testinfra.get_host(f"podman://lab-{LOAD_BALANCER}")


@pytest.fixture(scope="module")
def site():
    settings = INVENTORY.variables(LOAD_BALANCER, "nginx")
    # What the checks of the policy expect of the lab: enforcing as it is, no report address.
    assert not settings["nginx_content_security_policy_report_only"]
    assert not settings["nginx_content_security_policy_report_uri"]
    return SimpleNamespace(
        name=settings["nginx_server_name"],
        aliases=settings["nginx_server_name_aliases"],
        app_names=APP_SERVERS,
        apps=[testinfra.get_host(f"podman://lab-{app}") for app in APP_SERVERS],
        settings=settings,
        # The shop answers its OpenAPI document 200 (large enough to be gzipped) without touching the database;
        # it has no route for the other paths the checks ask for (/api/login, /api/items, /idle): 404.
        page="/openapi.json",
        unrouted_status="404",
        run_role=run_role,
        drain=drain,
        make_policy_enforcing=lambda: None,
    )
