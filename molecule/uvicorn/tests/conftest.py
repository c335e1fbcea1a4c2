"""The scenario's app server, for the checks in test_uvicorn.py (tests/lab/test_uvicorn_tier.py gives the lab's)."""

from types import SimpleNamespace

import pytest


@pytest.fixture(scope="module")
def address(host):
    """The private address the app listens on (the role's default: the host's default IPv4 address)."""
    return host.ansible("setup", "gather_subset=network")["ansible_facts"]["ansible_default_ipv4"]["address"]


@pytest.fixture(scope="session")
def tier():
    return SimpleNamespace(
        release="1.0.0",  # side_effect.yml deployed 1.0.1, then rolled back to it
        db_password="molecule-S3cret-uvicorn",  # vars/shop.yml
        stop_timeout="8s",  # uvicorn_stop_timeout in vars/shop.yml, as systemctl shows it
    )
