# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The firewall role's decisions: a host's inbound rules from the inventory, and whether a client is an admin.

Each filter is documented in its own file beside this one (firewall_rules.yml, firewall_admits.yml), so that
ansible-doc shows each its own page.
"""

import ipaddress
from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

KEYWORDS = ("any", "admin")


def _ports(service: Mapping) -> list[int]:
    """The service's ports as integers; an entry may itself be a list (a role's several instances)."""
    flat: list = []
    for entry in service.get("ports") or []:
        flat.extend(entry if isinstance(entry, Sequence) and not isinstance(entry, str) else [entry])
    ports = []
    for port in flat:
        try:
            number = int(port)
        except (TypeError, ValueError):
            number = 0
        if not 1 <= number <= 65535:
            raise AnsibleFilterError(
                f"firewall service {service.get('name')!r}: port {port!r} is not a TCP port (1-65535): fix its ports"
            )
        ports.append(number)
    if not ports:
        raise AnsibleFilterError(f"firewall service {service.get('name')!r} has no ports: list the TCP ports it serves")
    return sorted(set(ports))


def _networks(admin_networks: Sequence) -> list:
    networks = []
    for network in admin_networks:
        try:
            networks.append(ipaddress.ip_network(str(network), strict=False))
        except ValueError:
            raise AnsibleFilterError(
                f"firewall_admin_sources: {network!r} is not an IP network; give addresses or CIDR networks "
                "(192.0.2.10, 192.0.2.0/24, 2001:db8::/64)"
            ) from None
    return networks


def _addresses(hostvars: Mapping, host: str, service: str) -> list[str]:
    facts = (hostvars.get(host) or {}).get("ansible_facts") or {}
    ipv4 = (facts.get("default_ipv4") or {}).get("address")
    ipv6 = (facts.get("default_ipv6") or {}).get("address")
    if not ipv4 and not ipv6:
        raise AnsibleFilterError(
            f"firewall service {service!r}: no address for {host} (its default_ipv4 fact): gather its facts first "
            "(the firewall role gathers the facts of every source host through common's facts_of)"
        )
    return [address for address in (ipv4, ipv6) if address]


def firewall_rules(services, host, groups, hostvars, admin_networks):
    """The accept rules of `host` (pure: groups and hostvars are plain mappings)."""
    if isinstance(services, (str, bytes, Mapping)) or not all(isinstance(service, Mapping) for service in services):
        raise AnsibleFilterError(f"firewall_rules expects a list of services, got {services!r}")
    networks = _networks(admin_networks)
    names = [service.get("name") for service in services]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise AnsibleFilterError(f"firewall service names must be unique: {', '.join(twice)} used more than once")
    rules = []
    for service in services:
        name = service.get("name")
        if not name or not service.get("group"):
            raise AnsibleFilterError(f"firewall service {service!r} needs a name and the group whose hosts serve it")
        ports = _ports(service)
        sources = service.get("from")
        if isinstance(sources, str) or not sources:
            raise AnsibleFilterError(
                f"firewall service {name!r}: 'from' must be a list of sources (any, admin, inventory groups), "
                f"got {sources!r}"
            )
        try:
            # a bool, or its text where templates render to strings (ansible-core before 2.19)
            enabled = boolean(service.get("enabled", True), strict=True)
        except TypeError:
            raise AnsibleFilterError(
                f"firewall service {name!r}: 'enabled' must be true or false, got {service['enabled']!r}"
            ) from None
        if not enabled or host not in groups.get(service["group"], []):
            continue
        rule: dict = {"name": name, "ports": ports, "any": "any" in sources, "ipv4": [], "ipv6": []}
        for source in sources:
            if source == "admin":
                addresses = [str(network) for network in networks]
            elif source == "any":
                addresses = []
            elif isinstance(source, str) and source.replace("_", "").replace("-", "").isalnum():
                addresses = [
                    address for member in groups.get(source, []) for address in _addresses(hostvars, member, name)
                ]
            else:
                raise AnsibleFilterError(
                    f"firewall service {name!r}: source {source!r} is neither any, admin nor an inventory group name"
                )
            for address in addresses:
                family = "ipv4" if ipaddress.ip_network(address, strict=False).version == 4 else "ipv6"
                if address not in rule[family]:
                    rule[family].append(address)
        rules.append(rule)
    return rules


def firewall_admits(client, admin_networks) -> bool:
    """Whether a client address is inside the admin networks; a client that is no IP address has nothing to check."""
    try:
        address = ipaddress.ip_address(str(client).strip())
    except ValueError:
        return True
    return any(address in network for network in _networks(admin_networks))


class FilterModule:
    """Host firewall rules from the inventory."""

    def filters(self):
        return {"firewall_rules": firewall_rules, "firewall_admits": firewall_admits}
