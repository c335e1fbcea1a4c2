"""The argument specs refuse what preflight used to assert by hand, and accept the inventories we ship."""

from pathlib import Path

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

REPO = Path(__file__).resolve().parents[3]
ROLES = REPO / "roles"
INVENTORIES = [
    REPO / "inventories" / "lab" / "group_vars" / "all.yml",
    REPO / "inventories" / "production.example" / "group_vars" / "all" / "main.yml",
]


def spec(role, entry="main"):
    specs = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())
    return specs["argument_specs"][entry]["options"]


def errors(role, values, entry="main"):
    options = spec(role, entry)
    # Role defaults and templates are the role's business here: validate only what is given.
    for option in options.values():
        option.pop("default", None)
    result = ArgumentSpecValidator(options).validate(values)
    return [str(error) for error in result.errors]


def placeholders(value):
    """Templated strings inside lists and dicts become a plain string (the validator here does not template)."""
    if isinstance(value, dict):
        return {key: placeholders(item) for key, item in value.items()}
    if isinstance(value, list):
        return [placeholders(item) for item in value]
    return "templated-value" if isinstance(value, str) and "{{" in value else value


def untemplated(values):
    """Top-level templated values are left out; templates inside entries become plain strings."""
    return {key: placeholders(value) for key, value in values.items() if not (isinstance(value, str) and "{{" in value)}


@pytest.mark.parametrize("inventory", INVENTORIES, ids=lambda path: path.parts[-3])
@pytest.mark.parametrize("role", ["postgresql", "pgbouncer", "redis", "celery", "nginx"])
def test_the_shipped_inventories_pass(inventory, role):
    values = yaml.safe_load(inventory.read_text()) or {}
    mine = untemplated({key: value for key, value in values.items() if key.startswith(f"{role}_")})
    assert errors(role, {key: value for key, value in mine.items() if key in spec(role)}) == []


@pytest.mark.parametrize(
    ("role", "values", "message"),
    [
        ("pgbouncer", {"pgbouncer_pool_mode": "sessions"}, "pgbouncer_pool_mode must be one of"),
        ("pgbouncer", {"pgbouncer_databases": [{"dbname": "shop"}]}, "missing required arguments: name"),
        ("redis", {"redis_maxmemory_policy": "allkeys-lru2"}, "redis_maxmemory_policy must be one of"),
        ("redis", {"redis_appendfsync": "sometimes"}, "redis_appendfsync must be one of"),
        ("redis", {"redis_extra_users": [{"password": "x" * 16}]}, "missing required arguments: name"),
        ("postgresql", {"postgresql_hba_extra": [{"method": "trust", "address": "10.0.0.0/8"}]}, "must be one of"),
        ("postgresql", {"postgresql_hba_extra": [{"method": "md5", "address": "10.0.0.0/8"}]}, "must be one of"),
        ("postgresql", {"postgresql_users": [{"password": "x" * 16}]}, "missing required arguments: name"),
        ("postgresql", {"postgresql_databases": [{"owner": "shop"}]}, "missing required arguments: name"),
        ("postgresql", {"postgresql_databases": [{"name": "shop", "state": "gone"}]}, "must be one of"),
        ("celery", {"celery_queues": [{"name": "default"}]}, "missing required arguments: concurrency"),
        ("postgresql", {"postgresql_ha": "pacemaker"}, "postgresql_ha must be one of"),
    ],
)
def test_refused(role, values, message):
    found = errors(role, values)
    assert any(message in error for error in found), found


def test_entry_points_need_their_inputs():
    assert any("_pgbouncer_topology" in error for error in errors("pgbouncer", {}, "stage"))
    found = errors("postgresql", {"postgresql_topology": {"standbys": []}}, "standby")
    assert any("primary" in error for error in found), found
    assert errors("postgresql", {"postgresql_topology": {"primary": "db1", "error": None}}, "standby") == []
