"""The scenario's data tier, for the checks in test_data_tier.py, test_slots.py and test_switchover.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import testinfra


def run_the_role(extra_vars: dict | None = None) -> tuple[int, str]:
    """The scenario's converge.yml on the two members; return (rc, output)."""
    scenario = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            *("-i", str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent)),
            str(scenario / "converge.yml"),
            *("--limit", "molecule-pg-db1,molecule-pg-db2"),
            *("-e", json.dumps(extra_vars or {})),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"},
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="session")
def tier():
    app = testinfra.get_host("podman://molecule-pg-app")
    return SimpleNamespace(
        primary=testinfra.get_host("podman://molecule-pg-db1"),
        standby=testinfra.get_host("podman://molecule-pg-db2"),
        # The PgBouncer host, a client the primary's pg_hba allows; app_client runs psql from it.
        app=app,
        app_client=app,
        # Runs psql from a host the primary's pg_hba does not name.
        stranger=testinfra.get_host("podman://molecule-pg-stranger"),
        primary_name="molecule-pg-db1",
        standby_slot="molecule_pg_db2",
        member_slots=["molecule_pg_db1", "molecule_pg_db2"],
        shop_password="molecule-shop-secret-000",
        # The data tier's CA where app_client's psql reads it (PgBouncer's copy on the app host).
        client_ca="/etc/pgbouncer/server-ca.crt",
        switchover_password="molecule-switchover-secret",
        # One connection for each PgBouncer host, and three to spare.
        switchover_connection_limit=4,
        run_the_role=run_the_role,
    )
