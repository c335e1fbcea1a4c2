"""The backup scenario's checks (molecule/backup/tests/test_backup_tier.py), run against the lab's backup tier.

`./dev test` runs them here, on the tier site.yml built, instead of converging the backup scenario's own
instances a second time; `./dev molecule backup` still runs them on those instances while working on the role.
"""

import importlib.util
from types import SimpleNamespace

import pytest
import testinfra
import yaml
from conftest import REPO, primary

SPEC = importlib.util.spec_from_file_location(
    "backup_tier_checks", REPO / "molecule" / "backup" / "tests" / "test_backup_tier.py"
)
checks = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(checks)
globals().update({name: check for name, check in vars(checks).items() if name.startswith("test_")})


def lab_vars(group):
    return yaml.safe_load((REPO / "inventories" / "lab" / "group_vars" / f"{group}.yml").read_text())


@pytest.fixture(scope="module")
def tier():
    repository, store = lab_vars("backup_repository"), lab_vars("object_store")
    current = primary()
    return SimpleNamespace(
        primary=testinfra.get_host(f"podman://lab-{current}"),
        standby=testinfra.get_host(f"podman://lab-{'db2' if current == 'db1' else 'db1'}"),
        s3=testinfra.get_host("podman://lab-s3"),
        stanza=repository["backup_stanza"],
        endpoint=repository["backup_s3_endpoint"],
        access_key=store["object_store_access_key"],
        secret_key=store["object_store_secret_key"],
    )
