"""The scenario's backup tier, for the checks in test_backup_tier.py."""

from types import SimpleNamespace

import pytest
import testinfra


@pytest.fixture(scope="session")
def tier():
    return SimpleNamespace(
        primary=testinfra.get_host("podman://molecule-backup-db1"),
        standby=testinfra.get_host("podman://molecule-backup-db2"),
        s3=testinfra.get_host("podman://molecule-backup-s3"),
        stanza="molecule",
        endpoint="molecule-backup-s3:9000",
        access_key="molecule-access-key",
        secret_key="molecule-s3-secret-key-0001",
    )
