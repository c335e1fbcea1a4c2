"""The host firewall (roles/firewall): inbound is dropped unless the inventory's groups let it in.

Each blocked path is tried beside the same service from a host the inventory lets in, so a blocked path is blocked
by the firewall (its drop counter moves), not by a service that is down; the rest of the lab tests run through it.
"""

import json
import shlex
import socket

import pytest
from conftest import LAB_PARTS, REPO, on_host, playbook

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): sends traffic to every service, which must be
# up.
LAB_USES = dict.fromkeys(LAB_PARTS, "shared")

TABLE = "webstack_firewall"
CONNECT = """
import socket, sys

try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()
    print("open")
except socket.timeout:
    print("dropped")
except OSError as error:
    print(type(error).__name__)
"""


def connects(source, target, port):
    """'open', 'dropped' (no answer within 3 s) or the error: a TCP connection from one lab host to another."""
    address = address_of(target)
    return on_host(source, f"python3 -c {shlex.quote(CONNECT)} {address} {port}")


def address_of(host):
    return on_host(host, "hostname -I").split()[0]


def dropped(host):
    """The packets the host's firewall has dropped (its last rule's counter)."""
    chain = json.loads(on_host(host, f"nft --json list chain inet {TABLE} input"))["nftables"]
    (counter,) = [
        expression["counter"]["packets"]
        for item in chain
        if item.get("rule", {}).get("comment") == "dropped"
        for expression in item["rule"]["expr"]
        if "counter" in expression
    ]
    return counter


@pytest.mark.parametrize(
    ("target", "port", "let_in", "kept_out"),
    [
        pytest.param("db1", 5432, "app1", "cache1", id="postgresql-from-pgbouncer-hosts"),
        pytest.param("db1", 5432, "db2", "lb1", id="postgresql-from-members"),
        pytest.param("cache1", 6379, "worker1", "db2", id="redis-from-app-and-celery"),
        pytest.param("app1", 8000, "lb1", "worker1", id="app-from-the-load-balancer"),
        pytest.param("s3", 9000, "db2", "app2", id="object-store-from-the-backup-hosts"),
        pytest.param("db1", 9100, "mon1", "app1", id="node-exporter-from-monitoring"),
        pytest.param("db1", 9187, "mon1", "lb1", id="postgres-exporter-from-monitoring"),
        pytest.param("cache1", 9121, "mon1", "app2", id="redis-exporter-from-monitoring"),
        pytest.param("mon1", 9090, "mon1", "app1", id="prometheus-from-monitoring-and-admin"),
    ],
)
def test_a_service_is_reachable_from_the_groups_the_inventory_names_only(target, port, let_in, kept_out):
    assert connects(let_in, target, port) == "open"
    before = dropped(target)
    assert connects(kept_out, target, port) == "dropped"
    assert dropped(target) > before


def test_the_site_is_open_to_anyone_and_prometheus_to_the_controller():
    assert connects("worker1", "lb1", 443) == "open"
    for host, port in (("lb1", 443), ("mon1", 9090)):
        socket.create_connection((address_of(host), port), timeout=3).close()


def test_the_controller_reaches_no_database_and_no_exporter():
    for host, port in (("db1", 5432), ("db1", 9100), ("cache1", 6379)):
        with pytest.raises(TimeoutError):
            socket.create_connection((address_of(host), port), timeout=2).close()


def test_every_host_loads_the_ruleset_at_boot_and_keeps_other_tables():
    for host in ("lb1", "db2", "mon1"):
        assert on_host(host, "systemctl is-enabled nftables.service") == "enabled"
        assert "policy drop" in on_host(host, f"nft list chain inet {TABLE} input")
        # Another tool's table (a container engine's, fail2ban's) survives a reload of the firewall.
        on_host(host, "nft add table inet someone_else && systemctl reload nftables.service")
        try:
            assert "table inet someone_else" in on_host(host, "nft list tables")
            assert f"table inet {TABLE}" in on_host(host, "nft list tables")
        finally:
            on_host(host, "nft delete table inet someone_else")


@pytest.mark.parametrize(
    ("extra_vars", "message"),
    [
        pytest.param('{"firewall_admin_sources": []}', "firewall_admin_sources is empty", id="no-admin-sources"),
        pytest.param(
            '{"firewall_extra_services": [{"name": "x", "group": "postgres", "ports": [99999], "from": ["any"]}]}',
            "port 99999 is not a TCP port",
            id="unreadable-service",
        ),
    ],
)
def test_bad_input_is_refused_before_any_change(extra_vars, message):
    before = on_host("db2", f"cat /etc/nftables.d/{TABLE}.nft")
    rc, output = playbook(
        str(REPO / "playbooks" / "site.yml"), "--limit", "db2", "--tags", "firewall", "-e", extra_vars
    )
    assert rc != 0
    assert message in output
    assert on_host("db2", f"cat /etc/nftables.d/{TABLE}.nft") == before
