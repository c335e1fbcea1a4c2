# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus scrape configurations from the inventory: each job's targets are the hosts of a group."""

DOCUMENTATION = r"""
name: prometheus_scrape_configs
short_description: Prometheus scrape_configs whose targets are the inventory's hosts
version_added: 0.1.0
author: opsforge developers (@opsforge)
description:
  - Turns the prometheus role's scrape jobs into Prometheus C(scrape_configs). A job's targets are the hosts of an
    inventory group (or the hosts it names), each scraped at its private address (its C(default_ipv4) fact) and
    labelled C(instance) with its inventory name.
  - A job with C(probe) is a blackbox job; its targets are URLs made from each host's name, probed through the
    blackbox exporter on the C(probe.via) host. In the URL, C({host}) is the inventory name and C({server_name})
    the site's name the host serves, its C(nginx_server_name) (the inventory name when the inventory does not set
    it, as the nginx role does), since nginx refuses other names.
  - A group missing from the inventory gives no job (the default jobs name every tier); a host a job names that is
    not in the inventory, a host without facts, a job without hosts or with a name used twice are refused, with
    the fix.
options:
  _input:
    description: The jobs, as the prometheus role's C(prometheus_scrape_jobs) describes them.
    type: list
    elements: dict
    required: true
  groups:
    description: The inventory's groups (C(groups)).
    type: dict
    required: true
  hostvars:
    description: The inventory's host variables (C(hostvars)), for each target's address.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: The scrape configurations
  ansible.builtin.debug:
    msg: "{{ prometheus_scrape_jobs | opsforge.webstack.prometheus_scrape_configs(groups, hostvars) }}"
"""

RETURN = r"""
_value:
  description: Prometheus scrape_configs, one per job with targets.
  type: list
  elements: dict
  sample: [{"job_name": "redis", "metrics_path": "/metrics",
            "static_configs": [{"targets": ["10.77.0.51:9121"], "labels": {"instance": "cache1"}}]}]
"""

import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def _address(hostvars, host, job):
    try:
        address = hostvars[host]["ansible_facts"]["default_ipv4"]["address"]
    except (KeyError, TypeError):
        address = None
    if not address:
        raise AnsibleFilterError(
            f"scrape job {job!r}: no address for {host} (its default_ipv4 fact): gather its facts first "
            "(the prometheus role gathers the facts of every target through common's facts_of)"
        )
    return address


def _server_name(hostvars, host):
    """The site's name on an nginx host: its nginx_server_name, else the inventory name (the role's default)."""
    try:
        name = hostvars[host].get("nginx_server_name")
    except (KeyError, AttributeError):
        name = None
    if name is None:
        return host
    if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9.-]+$", name):
        raise AnsibleFilterError(
            f"nginx_server_name of {host} is {name!r}, not one DNS name: the probe asks for the site by that name"
        )
    return name


def _hosts(job, groups):
    if "hosts" in job and job["hosts"] is not None:
        outside = [host for host in job["hosts"] if host not in groups.get("all", [])]
        if outside:
            raise AnsibleFilterError(
                f"scrape job {job['name']!r} names {', '.join(outside)}, not in the inventory: Prometheus scrapes "
                "only the inventory's hosts. Add the host to the inventory (and the group of its service), or take "
                "it out of the job's hosts"
            )
        return list(job["hosts"])
    if job.get("group"):
        return list(groups.get(job["group"], []))
    raise AnsibleFilterError(f"scrape job {job['name']!r} has neither a group nor hosts: name the group it scrapes")


def scrape_configs(jobs, groups, hostvars):
    """Prometheus scrape_configs for the jobs (pure: groups and hostvars are plain mappings)."""
    if isinstance(jobs, (str, bytes, Mapping)) or not all(isinstance(job, Mapping) and job.get("name") for job in jobs):
        raise AnsibleFilterError(f"prometheus_scrape_configs expects a list of jobs with names, got {jobs!r}")
    names = [job["name"] for job in jobs]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise AnsibleFilterError(f"scrape job names must be unique: {', '.join(twice)} used more than once")
    configs = []
    for job in jobs:
        hosts = _hosts(job, groups)
        if not hosts:
            continue
        probe = job.get("probe")
        config = {"job_name": job["name"], "metrics_path": "/probe" if probe else job.get("metrics_path") or "/metrics"}
        if probe:
            via = probe.get("via")
            if via not in groups.get("all", []):
                raise AnsibleFilterError(
                    f"scrape job {job['name']!r} probes through {via!r}, not in the inventory: set probe.via to the "
                    "host that runs the blackbox exporter (the monitoring host)"
                )
            config["params"] = {"module": [probe["module"]]}
            config["static_configs"] = [
                {
                    "targets": [probe["url"].format(host=host, server_name=_server_name(hostvars, host))],
                    "labels": {"instance": host},
                }
                for host in hosts
            ]
            config["relabel_configs"] = [
                {"source_labels": ["__address__"], "target_label": "__param_target"},
                {"target_label": "__address__", "replacement": f"{_address(hostvars, via, job['name'])}:{job['port']}"},
            ]
        else:
            config["static_configs"] = [
                {"targets": [f"{_address(hostvars, host, job['name'])}:{job['port']}"], "labels": {"instance": host}}
                for host in hosts
            ]
        configs.append(config)
    return configs


class FilterModule:
    """Scrape configurations from the inventory."""

    def filters(self):
        return {"prometheus_scrape_configs": scrape_configs}
