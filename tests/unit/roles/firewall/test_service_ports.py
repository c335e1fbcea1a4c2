"""The firewall opens each exporter's port (the exporters role's) on the hosts that run it, to the monitoring hosts."""

from pathlib import Path

import yaml

ROLES = Path(__file__).resolve().parents[4] / "roles"


def test_every_exporter_is_reachable_from_the_monitoring_hosts_only():
    exporters = yaml.safe_load((ROLES / "exporters" / "defaults" / "main.yml").read_text())
    services = yaml.safe_load((ROLES / "firewall" / "defaults" / "main.yml").read_text())["firewall_services"]
    opened = {service["name"].removesuffix("_exporter"): service for service in services}
    for name, port in exporters["exporters_ports"].items():
        service = opened[name]
        assert service["ports"] == [port], name
        assert service["group"] == exporters["exporters_groups"].get(name, "all"), name
        assert service["from"] == ["monitoring"], name
