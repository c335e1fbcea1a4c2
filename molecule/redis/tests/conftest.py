"""The scenario's Redis host, for the checks in test_redis.py and test_redis_instances.py."""

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import testinfra

CONVERGE = Path(__file__).resolve().parents[1] / "converge.yml"


def converge(extra_vars: dict) -> tuple[int, str]:
    """Run the scenario's converge.yml again with extra variables; return (rc, output)."""
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            *("-i", str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent)),
            str(CONVERGE),
            *("-e", json.dumps(extra_vars)),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="session")
def tier():
    return SimpleNamespace(
        # podman exec directly: much faster than a round trip through Ansible for every command.
        host=testinfra.get_host("podman://molecule-redis"),
        # The same as in converge.yml.
        passwords={
            "app": "app-password-for-molecule",
            "celery": "celery-password-for-molecule",
            "admin": "admin-password-for-molecule",
        },
        # converge.yml's redis_extra_users: none.
        extra_users=[],
        # Under the app user's keys (redis_app_keys, the role's default ~cache:*).
        cache_prefix="cache:",
        # The broker's database (the Celery URLs' /1).
        celery_probe_db=1,
        converge=converge,
        # The CA on the controller (converge.yml's redis_tls_ca_dir), for clients that run there (Celery's probe).
        controller_ca=Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "webstack-ca" / "ca.crt",
    )
