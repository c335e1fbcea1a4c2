"""The postgresql scenario's checks (molecule/postgresql/tests), run against the lab's data tier.

`./dev test` runs them here, on the tier site.yml built, instead of converging the scenario's instances a second
time; `./dev molecule postgresql` still runs them all on those instances while working on the role. The primary is
whichever database host is not in recovery now; app1 is the PgBouncer host, cache1 a host pg_hba does not name.
The lab's client hosts carry no PostgreSQL client: psql "from" app1 or cache1 is this machine's, run in the host's
network (as side_effect.yml runs pgbench), so the server sees the host's address.

Scenario-only:
- test_db1_is_primary_again_after_two_promotions: what side_effect.yml's two promotions under pgbench left (db1
  primary on timeline 3 or later); on the lab, the primary and its timeline are whatever earlier tests left.
  side_effect.yml itself (the two switchovers under pgbench) is the scenario's; the lab switches over and back in
  test_backup.py.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from types import SimpleNamespace

import pytest
import testinfra
from conftest import REPO, on_host, playbook, primary
from scenario_checks import LabInventory, scenario_checks, scenario_module

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): reloads the members with new settings and
# certificates, drops slots.
LAB_USES = {"database": "shared", "primary": "exclusive"}

SCENARIO_ONLY = ("test_db1_is_primary_again_after_two_promotions",)

# test_tls imports test_data_tier, as the scenario's own pytest run lets it: that one module goes under its own name
# (not every module: the scenario's test_switchover would take the name of this directory's).
scenario_module(REPO / "molecule" / "postgresql" / "tests" / "test_data_tier.py", importable=True)
globals().update(scenario_checks("postgresql", SCENARIO_ONLY))

INVENTORY = LabInventory()


class InNetworkOf:
    """Commands run here in a lab host's network namespace: the part of a testinfra host the psql checks use."""

    def __init__(self, host: str):
        self.container = f"lab-{host}"
        self.controller = testinfra.get_host("local://")

    def run(self, command: str):
        pid = self.controller.check_output(f"podman inspect --format '{{{{.State.Pid}}}}' {self.container}")
        return self.controller.run(f"nsenter -t {pid} -n sh -c {shlex.quote(command)}")

    def check_output(self, command: str) -> str:
        result = self.run(command)
        assert result.rc == 0, f"{self.container}: {command}: {result.stderr}"
        return result.stdout.rstrip("\r\n")


def run_the_role(extra_vars: dict | None = None) -> tuple[int, str]:
    """site.yml's PostgreSQL role on the two members, its packages left alone; return (rc, output)."""
    return playbook(
        "playbooks/site.yml",
        *("--limit", "postgres", "--tags", "postgresql_configure", "-e", json.dumps(extra_vars or {})),
    )


@pytest.fixture(scope="module", autouse=True)
def stranger_past_the_firewall():
    """The scenario's unknown-host check is pg_hba's: for this module, cache1 gets through the members' firewalls
    (a rule put first, taken out by reloading the firewall), so pg_hba is what refuses it. That the firewall drops
    it is test_firewall's check."""
    members = INVENTORY.hosts("postgres")
    stranger = InNetworkOf("cache1").check_output("hostname -I").split()[0]
    for member in members:
        on_host(member, f"nft insert rule inet webstack_firewall input ip saddr {stranger} tcp dport 5432 accept")
    yield
    for member in members:
        on_host(member, "systemctl reload nftables.service")


@pytest.fixture(scope="module")
def tier():
    members = INVENTORY.hosts("postgres")
    current = primary()
    standby = next(member for member in members if member != current)
    variables = INVENTORY.variables(current, "postgresql")
    return SimpleNamespace(
        primary=testinfra.get_host(f"podman://lab-{current}"),
        standby=testinfra.get_host(f"podman://lab-{standby}"),
        app=testinfra.get_host("podman://lab-app1"),
        app_client=InNetworkOf("app1"),
        stranger=InNetworkOf("cache1"),
        primary_name=current,
        # A member's slot is its inventory name, made a valid slot name: the lab's names already are.
        standby_slot=standby,
        member_slots=members,
        shop_password=variables["webstack_lab_shop_db_password"],
        # app_client's psql runs on this machine: the data tier's CA where the lab inventory keeps it.
        client_ca=str(Path(__file__).resolve().parents[2] / ".cache" / "webstack-ca" / "ca.crt"),
        switchover_password=variables["postgresql_switchover_password"],
        # One connection for each PgBouncer host, and three to spare.
        switchover_connection_limit=len(INVENTORY.hosts("pgbouncer")) + 3,
        run_the_role=run_the_role,
    )
