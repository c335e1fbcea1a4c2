"""Every role documents exactly the variables it lets users set, with the same defaults."""

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
    assert sorted(defaults) == sorted(options), f"roles/{role}: defaults and argument_specs name other variables"
    for name, value in defaults.items():
        assert name.startswith(f"{role}_"), f"roles/{role}: {name} lacks the role's prefix"
        spec = options[name]
        assert spec.get("description"), f"roles/{role}: {name} has no description"
        if "{{" not in str(value):
            assert spec.get("default") == value, f"roles/{role}: {name} defaults differ"
