"""The node exporter's systemd collector exports the platform's units and, on the app servers, the app's unit,
which the uvicorn role names after the app (uvicorn_app_name): the exporters role's defaults and vars rendered
by Ansible's templating, the unit names matched as the node exporter does (the whole name, `^(?:...)$`)."""

import re
from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROLES = Path(__file__).resolve().parents[4] / "roles"
# The units of the other roles whose state the rules and the console page read.
PLATFORM_UNITS = [
    "celery-reports.service",
    "postgresql@15-main.service",
    "pgbouncer.service",
    "redis-server.service",
    "nginx.service",
    "webstack-pgbouncer-exporter.service",
]


def _trusted(variables: dict) -> dict:
    """Role files' strings are templates to Ansible; these are read by the test, so mark them so."""
    return {name: trust_as_template(value) if isinstance(value, str) else value for name, value in variables.items()}


def render(expression: str, role: str, **host_vars) -> object:
    """An expression templated with a role's defaults and vars and a host's variables, as Ansible does."""
    variables = {}
    for layer in ("defaults", "vars"):
        variables |= yaml.safe_load((ROLES / role / layer / "main.yml").read_text())
    templar = Templar(loader=DataLoader(), variables=_trusted(variables | host_vars))
    return templar.template(trust_as_template(expression))


def exported(unit: str, **host_vars) -> bool:
    """Whether the node exporter of a host with these variables exports the unit's state."""
    include = render("{{ _exporters_node_unit_include }}", "exporters", **host_vars)
    return re.fullmatch(f"(?:{include})", unit) is not None


def uvicorn_unit(app_name: str) -> str:
    return render("{{ _uvicorn_unit }}", "uvicorn", uvicorn_app_name=app_name)


APP_SERVER = {"uvicorn_app_name": "shop", "group_names": ["app", "pgbouncer"]}


def test_an_app_server_exports_the_unit_the_uvicorn_role_runs_the_app_as():
    assert uvicorn_unit("shop") == "shop.service"
    assert exported(uvicorn_unit("shop"), **APP_SERVER)
    assert not exported("uvicorn.service", **APP_SERVER)
    assert not exported("shop-worker.service", **APP_SERVER)


@pytest.mark.parametrize("unit", PLATFORM_UNITS)
@pytest.mark.parametrize("host_vars", [APP_SERVER, {"group_names": ["postgres"]}], ids=["app server", "other host"])
def test_the_platform_units_are_exported_everywhere(unit, host_vars):
    assert exported(unit, **host_vars)


@pytest.mark.parametrize(
    "host_vars",
    [
        {"uvicorn_app_name": "shop", "group_names": ["celery"]},  # the lab sets the app's name for every host
        {"group_names": ["app"]},  # no app configured
    ],
    ids=["not an app server", "no uvicorn_app_name"],
)
def test_no_app_unit_elsewhere(host_vars):
    assert render("{{ exporters_node_app_units }}", "exporters", **host_vars) == []


def test_the_app_group_and_units_can_be_set():
    assert exported("store.service", uvicorn_app_name="store", group_names=["web"], exporters_app_group="web")
    assert exported("store-api.service", group_names=["web"], exporters_node_app_units=["store-api.service"])


def test_an_app_name_is_matched_literally():
    assert exported("shop.v2.service", uvicorn_app_name="shop.v2", group_names=["app"])
    assert not exported("shopXv2.service", uvicorn_app_name="shop.v2", group_names=["app"])
