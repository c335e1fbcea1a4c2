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

import importlib.util
import json
from types import SimpleNamespace

import pytest
import testinfra
import yaml
from conftest import REPO, playbook

SCENARIO_ONLY = {
    "test_the_app_gets_the_forwarded_headers",
    "test_http_redirects_an_alias_to_the_configured_name",
    "test_the_alias_is_served_over_https",
    "test_retries_only_idempotent_requests",
    "test_the_apps_own_429_passes_through_untouched",
    "test_requests_in_progress_per_client_limited_with_retry_after",
    "test_api_rate_limited_with_retry_after",
    "test_report_only_policy_with_its_report_endpoint",
}

SPEC = importlib.util.spec_from_file_location("nginx_checks", REPO / "molecule" / "nginx" / "tests" / "test_nginx.py")
checks = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(checks)
unknown_checks = SCENARIO_ONLY - set(vars(checks))
assert not unknown_checks, unknown_checks
globals().update(
    {name: check for name, check in vars(checks).items() if name.startswith("test_") and name not in SCENARIO_ONLY}
)

INVENTORY = yaml.safe_load((REPO / "inventories" / "lab" / "hosts.yml").read_text())["all"]["children"]
LOAD_BALANCER = next(iter(INVENTORY["nginx"]["hosts"]))
APP_SERVERS = list(INVENTORY["app"]["hosts"])


def lab_settings():
    """The nginx role's variables on the load balancer: the role's defaults under the lab's group_vars."""
    defaults = yaml.safe_load((REPO / "roles" / "nginx" / "defaults" / "main.yml").read_text())
    group_vars = REPO / "inventories" / "lab" / "group_vars"
    settings = {**defaults, **yaml.safe_load((group_vars / "all.yml").read_text())}
    if (group_vars / "nginx.yml").exists():
        settings.update(yaml.safe_load((group_vars / "nginx.yml").read_text()))
    return settings


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
    settings = lab_settings()
    # What the checks of the policy expect of the lab: enforcing as it is, no report address.
    assert not settings["nginx_content_security_policy_report_only"]
    assert not settings["nginx_content_security_policy_report_uri"]
    return SimpleNamespace(
        name=settings["nginx_server_name"].replace("{{ inventory_hostname }}", LOAD_BALANCER),
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
