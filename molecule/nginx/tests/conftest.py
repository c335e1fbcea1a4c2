"""The scenario's load balancer and its stand-in app servers (prepare.yml), for the checks in test_nginx.py."""

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import testinfra
import yaml

SCENARIO = Path(__file__).resolve().parents[1]
ROLE_DEFAULTS = SCENARIO.parents[1] / "roles" / "nginx" / "defaults" / "main.yml"
APP_SERVERS = ["molecule-nginx-app1", "molecule-nginx-app2"]


def playbook(name, extra_vars, *args):
    """Run a playbook of this scenario against its inventory; return (rc, output)."""
    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            *("-i", str(inventory), str(SCENARIO / name)),
            *("-e", json.dumps(extra_vars), *args),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"},
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def make_policy_enforcing():
    rc, out = playbook("converge.yml", {"nginx_content_security_policy_report_only": False})
    assert rc == 0, out


@pytest.fixture(scope="session")
def site():
    converge_vars = yaml.safe_load((SCENARIO / "converge.yml").read_text())[0]["vars"]
    settings = {**yaml.safe_load(ROLE_DEFAULTS.read_text()), **converge_vars}
    return SimpleNamespace(
        name="molecule-nginx-lb",
        aliases=settings["nginx_server_name_aliases"],
        app_names=APP_SERVERS,
        apps=[testinfra.get_host(f"podman://{app}") for app in APP_SERVERS],
        settings=settings,
        # The stand-in app server (files/echo-upstream.py) answers every path 200, with JSON echoing the request.
        page="/hello",
        unrouted_status="200",
        run_role=lambda extra_vars, *args: playbook("converge.yml", extra_vars, *args),
        drain=lambda app, state: playbook("drain.yml", {"nginx_drain_host": app, "nginx_drain_state": state}),
        make_policy_enforcing=make_policy_enforcing,
    )
