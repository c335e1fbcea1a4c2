"""The backup scenario's checks (molecule/backup/tests/test_backup_tier.py), run against the lab's backup tier.

`./dev test` runs them here, on the tier site.yml built, instead of converging the backup scenario's own
instances a second time; `./dev molecule backup` still runs them on those instances while working on the role.

Scenario-only: none.
"""

from types import SimpleNamespace

import pytest
import testinfra
from conftest import primary
from scenario_checks import LabInventory, scenario_checks

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): reads the backup tier and the primary it
# found.
LAB_USES = {"backup": "shared", "database": "shared", "primary": "shared"}

SCENARIO_ONLY = ()

globals().update(scenario_checks("backup", SCENARIO_ONLY))

INVENTORY = LabInventory()
OBJECT_STORE = INVENTORY.hosts("object_store")[0]


@pytest.fixture(scope="module")
def tier() -> SimpleNamespace:
    current = primary()
    standby = next(member for member in INVENTORY.hosts("backup") if member != current)
    repository = INVENTORY.variables(current, "backup")
    store = INVENTORY.variables(OBJECT_STORE, "object_store")
    return SimpleNamespace(
        primary=testinfra.get_host(f"podman://lab-{current}"),
        standby=testinfra.get_host(f"podman://lab-{standby}"),
        s3=testinfra.get_host(f"podman://lab-{OBJECT_STORE}"),
        stanza=repository["backup_stanza"],
        endpoint=repository["backup_s3_endpoint"],
        access_key=store["object_store_access_key"],
        secret_key=store["object_store_secret_key"],
    )
