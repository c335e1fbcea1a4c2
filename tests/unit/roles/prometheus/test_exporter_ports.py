"""The prometheus role scrapes each exporter at the port the exporters role gives it."""

from pathlib import Path

import yaml

ROLES = Path(__file__).resolve().parents[4] / "roles"


def test_scrape_jobs_use_the_exporters_ports():
    ports = yaml.safe_load((ROLES / "exporters" / "defaults" / "main.yml").read_text())["exporters_ports"]
    jobs = yaml.safe_load((ROLES / "prometheus" / "defaults" / "main.yml").read_text())["prometheus_scrape_jobs"]
    scraped = {("blackbox" if "probe" in job else job["name"]): job["port"] for job in jobs}
    assert {name: scraped[name] for name in ports} == ports
