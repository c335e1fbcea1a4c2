"""What the tier files that run a molecule scenario's checks on the lab share.

The scenario's test functions, loaded from its tests/ directory, and the lab inventory's values as Ansible
resolves them for a host (role defaults under the inventory's variables, templated), so that a check compares the
lab with what its inventory asks for rather than with numbers copied from it.
"""

import importlib.util
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar
from ansible.vars.manager import VariableManager
from conftest import REPO

INVENTORY = REPO / "inventories" / "lab" / "hosts.yml"


def scenario_checks(path: Path, scenario_only: Collection[str]) -> dict[str, Callable[..., Any]]:
    """The test functions of the scenario module at PATH, less those named in SCENARIO_ONLY."""
    spec = importlib.util.spec_from_file_location(f"{path.parent.parent.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    checks = {name: check for name, check in vars(module).items() if name.startswith("test_")}
    unknown = set(scenario_only) - checks.keys()
    assert not unknown, f"no such checks in {path}: {sorted(unknown)}"
    return {name: check for name, check in checks.items() if name not in scenario_only}


class LabInventory:
    """inventories/lab as ansible-playbook reads it."""

    def __init__(self) -> None:
        self._loader = DataLoader()
        self._inventory = InventoryManager(loader=self._loader, sources=[str(INVENTORY)])
        self._variables = VariableManager(loader=self._loader, inventory=self._inventory)

    def hosts(self, group: str) -> list[str]:
        return [host.name for host in self._inventory.get_hosts(group)]

    def variables(self, host: str, role: str) -> Callable[[str], Any]:
        """A host's variables as ROLE sees them: its defaults under the inventory's, each templated when asked for."""
        defaults_file = REPO / "roles" / role / "defaults" / "main.yml"
        defaults = self._loader.load_from_file(str(defaults_file), trusted_as_template=True)
        variables = {**defaults, **self._variables.get_vars(host=self._inventory.get_host(host))}
        templar = Templar(loader=self._loader, variables=variables)
        return lambda name: templar.template(variables[name])


def systemd_timespan(seconds: int) -> str:
    """SECONDS as `systemctl show` prints a time span: 8s, 1min 30s, 6min, 1h 5min."""
    parts = []
    for unit, length in (("h", 3600), ("min", 60), ("s", 1)):
        count, seconds = divmod(seconds, length)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts) or "0"
