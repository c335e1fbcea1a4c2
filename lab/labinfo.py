"""Facts the lab script needs that are awkward in shell: hosts, mirrors, subnet clashes, base packages.

Run with the project's virtualenv python (it needs PyYAML, which Ansible brings).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

SOURCES_DIR = Path("/etc/apt/sources.list.d")
SOURCES_LIST = Path("/etc/apt/sources.list")


def lab_hosts(inventory: Path, subnet: str) -> list[tuple[str, str]]:
    """Return (host, address) for every inventory host that has a lab_host_number."""
    network = ipaddress.ip_network(subnet)
    hosts = yaml.safe_load(inventory.read_text())["all"]["hosts"]
    result = []
    for name, hostvars in hosts.items():
        number = int(hostvars["lab_host_number"])
        if not 1 < number < network.num_addresses - 1:
            raise SystemExit(f"lab: host {name}: lab_host_number {number} does not fit in {subnet}")
        result.append((name, str(network.network_address + number)))
    return result


def _deb822_entries(text: str) -> list[dict[str, str]]:
    entries = []
    for stanza in re.split(r"\n\s*\n", text):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
        if fields.get("types", "").split().count("deb") and fields.get("uris"):
            entries.append(fields)
    return entries


def _apt_entries() -> list[tuple[str, str]]:
    """Every (uri, suite) of the host's apt sources, in the order apt reads them."""
    entries = []
    for path in sorted(SOURCES_DIR.glob("*.sources")):
        for entry in _deb822_entries(path.read_text()):
            uri = entry["uris"].split()[0]
            entries.extend((uri, entry_suite) for entry_suite in entry.get("suites", "").split())
    for path in [SOURCES_LIST, *sorted(SOURCES_DIR.glob("*.list"))]:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            match = re.match(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line.strip())
            if match:
                entries.append((match.group(1), match.group(2)))
    return entries


def apt_mirrors(suite: str) -> dict[str, str]:
    """The host's own Debian mirror and security mirror for `suite`, never a hard-coded host.

    A release the host's sources do not name (a trixie image built on a bookworm host) comes from the
    mirror the host uses for its own release: a Debian mirror serves every release.
    """
    entries = _apt_entries()
    found: dict[str, str] = {}
    for uri, entry_suite in entries:
        if entry_suite == suite:
            found.setdefault("main", uri)
        elif entry_suite == f"{suite}-security":
            found.setdefault("security", uri)
    for uri, entry_suite in entries:
        if entry_suite.endswith("-security"):
            found.setdefault("security", uri)
        elif "-" not in entry_suite and entry_suite not in ("stable", "testing", "unstable", "sid", "experimental"):
            found.setdefault("main", uri)
    if "main" not in found:
        raise SystemExit(
            f"lab: no Debian apt source in {SOURCES_DIR} or {SOURCES_LIST} to build a '{suite}' image from; "
            "the image is built from the host's own mirror, so add one there"
        )
    return found


def subnet_clashes(subnet: str, own_network: str) -> list[str]:
    """Describe every route or other podman network that overlaps `subnet`."""
    wanted = ipaddress.ip_network(subnet)
    clashes = []
    routes = subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True, check=True).stdout
    for line in routes.splitlines():
        destination = line.split()[0]
        if destination == "default":
            continue
        route = ipaddress.ip_network(destination if "/" in destination else f"{destination}/32", strict=False)
        if route.overlaps(wanted) and f"dev {podman_interface(own_network)}" not in line:
            clashes.append(f"host route '{line.strip()}'")
    listing = subprocess.run(
        ["podman", "network", "ls", "--format", "json"], capture_output=True, text=True, check=True
    ).stdout
    for network in json.loads(listing or "[]"):
        if network["name"] == own_network:
            continue
        for sub in network.get("subnets") or []:
            if ipaddress.ip_network(sub["subnet"]).overlaps(wanted):
                clashes.append(f"podman network '{network['name']}' ({sub['subnet']})")
    return clashes


def base_packages(role_defaults: Path) -> list[str]:
    """The common role's base packages (`common_packages`), which the lab image carries already."""
    return list(yaml.safe_load(role_defaults.read_text())["common_packages"])


def podman_interface(network: str) -> str:
    result = subprocess.run(
        ["podman", "network", "inspect", network, "--format", "{{.NetworkInterface}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    hosts = sub.add_parser("hosts", help="print 'host address' for every lab host")
    hosts.add_argument("inventory", type=Path)
    hosts.add_argument("subnet")
    mirrors = sub.add_parser("mirrors", help="print the host's apt mirrors as shell assignments")
    mirrors.add_argument("suite")
    clashes = sub.add_parser("clashes", help="print what overlaps the lab subnet, one per line")
    clashes.add_argument("subnet")
    clashes.add_argument("network")
    packages = sub.add_parser("base-packages", help="print the common role's base packages, comma-separated")
    packages.add_argument("role_defaults", type=Path)
    args = parser.parse_args()

    if args.command == "hosts":
        for name, address in lab_hosts(args.inventory, args.subnet):
            print(name, address)
    elif args.command == "mirrors":
        found = apt_mirrors(args.suite)
        print(f"MIRROR={found['main']}")
        print(f"SECURITY_MIRROR={found.get('security', '')}")
    elif args.command == "clashes":
        for clash in subnet_clashes(args.subnet, args.network):
            print(clash)
    elif args.command == "base-packages":
        print(",".join(base_packages(args.role_defaults)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
