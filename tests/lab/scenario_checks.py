"""What the tier files that run a molecule scenario's checks on the lab share.

The scenario's test functions, loaded from its tests/ directory, and the lab inventory's values as Ansible
resolves them for a host (role defaults under the inventory's variables, templated), so that a check compares the
lab with what its inventory asks for rather than with numbers copied from it.
"""

import importlib.util
import sys
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar
from ansible.vars.manager import VariableManager
from conftest import REPO

INVENTORY = REPO / "inventories" / "lab" / "hosts.yml"


def scenario_module(path: Path, *, importable: bool = False) -> ModuleType:
    """The scenario module at PATH, loaded once. IMPORTABLE registers it under its own name, as the scenario's
    pytest run imports it, for the modules beside it that import it."""
    name = path.stem if importable else f"{path.parent.parent.name}_{path.stem}"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, path)
        module = sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    assert Path(module.__file__) == path, f"{name} is already {module.__file__}, not {path}"
    return module


def scenario_checks(
    scenario: str, scenario_only: Collection[str], *, importable: bool = False
) -> dict[str, Callable[..., Any]]:
    """The test functions of the scenario's test modules (molecule/SCENARIO/tests/test_*.py, what its verifier
    runs), less those named in SCENARIO_ONLY."""
    paths = sorted((REPO / "molecule" / scenario / "tests").glob("test_*.py"))
    checks = {
        name: check
        for path in paths
        for name, check in vars(scenario_module(path, importable=importable)).items()
        if name.startswith("test_")
    }
    unknown = set(scenario_only) - checks.keys()
    assert not unknown, f"no such checks in molecule/{scenario}/tests: {sorted(unknown)}"
    return {name: check for name, check in checks.items() if name not in scenario_only}


class RoleVariables(Mapping[str, Any]):
    """Variables templated when read: only those a check reads need to resolve (others may need facts)."""

    def __init__(self, templar: Templar, variables: Mapping[str, Any]) -> None:
        self._templar = templar
        self._variables = variables

    def __getitem__(self, name: str) -> Any:
        return self._templar.template(self._variables[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self._variables)

    def __len__(self) -> int:
        return len(self._variables)


class LabInventory:
    """inventories/lab as ansible-playbook reads it."""

    def __init__(self) -> None:
        self._loader = DataLoader()
        self._inventory = InventoryManager(loader=self._loader, sources=[str(INVENTORY)])
        self._variables = VariableManager(loader=self._loader, inventory=self._inventory)

    def hosts(self, group: str) -> list[str]:
        return [host.name for host in self._inventory.get_hosts(group)]

    def variables(self, host: str, role: str) -> RoleVariables:
        """A host's variables as ROLE sees them: its defaults under the inventory's."""
        defaults_file = REPO / "roles" / role / "defaults" / "main.yml"
        defaults = self._loader.load_from_file(str(defaults_file), trusted_as_template=True)
        variables = {**defaults, **self._variables.get_vars(host=self._inventory.get_host(host))}
        return RoleVariables(Templar(loader=self._loader, variables=variables), variables)


def systemd_timespan(seconds: int) -> str:
    """SECONDS as `systemctl show` prints a time span: 8s, 1min 30s, 6min, 1h 5min."""
    parts = []
    for unit, length in (("h", 3600), ("min", 60), ("s", 1)):
        count, seconds = divmod(seconds, length)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts) or "0"
