"""Every role documents exactly the variables it lets users set, with the same defaults.

A required input (the app's identity in uvicorn and celery) has no default anywhere: it is in the
argument spec with `required: true` and absent from defaults/main.yml.
"""

from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[3] / "roles"


def _load(path):
    return yaml.safe_load(path.read_text()) if path.exists() else None


@pytest.mark.parametrize("role", sorted(p.name for p in ROLES.iterdir() if (p / "tasks").is_dir()))
def test_defaults_match_argument_specs(role):
    defaults = _load(ROLES / role / "defaults" / "main.yml") or {}
    specs = _load(ROLES / role / "meta" / "argument_specs.yml")
    assert specs, f"roles/{role}/meta/argument_specs.yml is missing"
    options = specs["argument_specs"]["main"]["options"]
    required = {name for name, spec in options.items() if spec.get("required")}
    optional = set(options) - required
    assert sorted(defaults) == sorted(optional), f"roles/{role}: defaults and argument_specs name other variables"
    for name in required:
        assert name.startswith(f"{role}_"), f"roles/{role}: {name} lacks the role's prefix"
        assert "default" not in options[name], f"roles/{role}: {name} is required and has a default"
        assert options[name].get("description"), f"roles/{role}: {name} has no description"
    for name, value in defaults.items():
        assert name.startswith(f"{role}_"), f"roles/{role}: {name} lacks the role's prefix"
        spec = options[name]
        assert spec.get("description"), f"roles/{role}: {name} has no description"
        if "{{" not in str(value):
            assert spec.get("default") == value, f"roles/{role}: {name} defaults differ"
