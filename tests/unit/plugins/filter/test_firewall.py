"""A host's firewall rules come from the inventory's groups; what the filter cannot read is refused with the fix."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.firewall import firewall_admits, firewall_rules

GROUPS = {
    "all": ["lb1", "app1", "app2", "db1", "mon1"],
    "nginx": ["lb1"],
    "app": ["app1", "app2"],
    "pgbouncer": ["app1", "app2"],
    "postgres": ["db1"],
    "monitoring": ["mon1"],
}
HOSTVARS = {
    host: {"ansible_facts": {"default_ipv4": {"address": f"10.0.0.{number}"}}}
    for number, host in enumerate(GROUPS["all"], start=1)
}
HOSTVARS["db1"]["ansible_facts"]["default_ipv6"] = {"address": "fd00::4"}
SERVICES = [
    {"name": "ssh", "group": "all", "ports": [22], "from": ["admin"]},
    {"name": "https", "group": "nginx", "ports": [80, 443], "from": ["any"]},
    {"name": "app", "group": "app", "ports": ["8000"], "from": ["nginx"]},
    {"name": "postgresql", "group": "postgres", "ports": [5432], "from": ["pgbouncer", "postgres"]},
    {"name": "redis", "group": "redis", "ports": [[6379, 6380]], "from": ["app"]},
    {"name": "node_exporter", "group": "all", "ports": [9100], "from": ["monitoring"]},
]
ADMIN = ["192.0.2.0/24", "2001:db8::/64"]


def rules_of(host, services=None, groups=None):
    rules = firewall_rules(services or SERVICES, host, groups or GROUPS, HOSTVARS, ADMIN)
    return {rule["name"]: rule for rule in rules}


def test_a_host_gets_the_rules_of_its_groups_only():
    assert list(rules_of("db1")) == ["ssh", "postgresql", "node_exporter"]
    assert list(rules_of("lb1")) == ["ssh", "https", "node_exporter"]


def test_group_sources_are_their_hosts_private_addresses_in_both_families():
    rule = rules_of("db1")["postgresql"]
    assert rule == {
        "name": "postgresql",
        "ports": [5432],
        "any": False,
        "ipv4": ["10.0.0.2", "10.0.0.3", "10.0.0.4"],
        "ipv6": ["fd00::4"],
    }


def test_admin_is_the_admin_networks_and_any_is_everyone():
    assert rules_of("app1")["ssh"]["ipv4"] == ["192.0.2.0/24"]
    assert rules_of("app1")["ssh"]["ipv6"] == ["2001:db8::/64"]
    assert rules_of("lb1")["https"] == {"name": "https", "ports": [80, 443], "any": True, "ipv4": [], "ipv6": []}


def test_ports_are_integers_and_a_list_entry_is_flattened():
    assert rules_of("app1")["app"]["ports"] == [8000]
    groups = {**GROUPS, "redis": ["mon1"]}
    assert rules_of("mon1", groups=groups)["redis"]["ports"] == [6379, 6380]


def test_a_group_missing_from_the_inventory_serves_nothing_and_lets_nobody_in():
    assert "redis" not in rules_of("app1")
    services = [{"name": "store", "group": "app", "ports": [9000], "from": ["backup_repository"]}]
    assert rules_of("app1", services=services)["store"] == {
        "name": "store",
        "ports": [9000],
        "any": False,
        "ipv4": [],
        "ipv6": [],
    }


def test_a_service_that_is_not_enabled_opens_nothing():
    services = [*SERVICES, {"name": "patroni_api", "group": "postgres", "ports": [8008], "from": ["postgres"]}]
    assert "patroni_api" in rules_of("db1", services=services)
    services[-1] = {**services[-1], "enabled": False}
    assert "patroni_api" not in rules_of("db1", services=services)


@pytest.mark.parametrize(
    ("service", "message"),
    [
        ({"name": "x", "group": "app", "ports": [0], "from": ["any"]}, "is not a TCP port"),
        ({"name": "x", "group": "app", "ports": ["http"], "from": ["any"]}, "is not a TCP port"),
        ({"name": "x", "group": "app", "ports": [], "from": ["any"]}, "has no ports"),
        ({"name": "x", "group": "app", "ports": [80], "from": "any"}, "must be a list of sources"),
        ({"name": "x", "group": "app", "ports": [80], "from": ["10.0.0.0/8"]}, "neither any, admin nor"),
        ({"group": "app", "ports": [80], "from": ["any"]}, "needs a name and the group"),
        ({"name": "x", "group": "app", "ports": [80], "from": ["any"], "enabled": "maybe"}, "must be true or false"),
    ],
)
def test_a_service_it_cannot_read_is_refused_with_the_fix(service, message):
    with pytest.raises(AnsibleFilterError, match=message):
        firewall_rules([service], "app1", GROUPS, HOSTVARS, ADMIN)


def test_names_used_twice_and_admin_networks_that_are_not_networks_are_refused():
    with pytest.raises(AnsibleFilterError, match="ssh used more than once"):
        firewall_rules(SERVICES + SERVICES[:1], "app1", GROUPS, HOSTVARS, ADMIN)
    with pytest.raises(AnsibleFilterError, match="'the office' is not an IP network"):
        firewall_rules(SERVICES, "app1", GROUPS, HOSTVARS, ["the office"])


def test_a_source_host_without_facts_is_refused():
    hostvars = {**HOSTVARS, "mon1": {}}
    with pytest.raises(AnsibleFilterError, match="no address for mon1"):
        firewall_rules(SERVICES, "app1", GROUPS, hostvars, ADMIN)


@pytest.mark.parametrize(
    ("client", "admitted"),
    [("192.0.2.7", True), ("2001:db8::5", True), ("198.51.100.1", False), ("UNKNOWN", True), ("", True)],
)
def test_the_controller_must_connect_from_an_admin_network(client, admitted):
    assert firewall_admits(client, ADMIN) is admitted
