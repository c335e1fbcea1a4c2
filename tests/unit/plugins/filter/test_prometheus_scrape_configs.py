"""Scrape targets come from the inventory; a host outside it is refused with the fix."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.prometheus_scrape_configs import scrape_configs

GROUPS = {"all": ["mon1", "db1", "db2", "lb1"], "monitoring": ["mon1"], "postgres": ["db1", "db2"], "nginx": ["lb1"]}
HOSTVARS = {
    host: {"ansible_facts": {"default_ipv4": {"address": f"10.0.0.{number}"}}}
    for number, host in enumerate(GROUPS["all"], start=1)
}


def test_a_group_job_scrapes_each_host_at_its_address_named_by_inventory():
    (config,) = scrape_configs([{"name": "postgres", "group": "postgres", "port": 9187}], GROUPS, HOSTVARS)
    assert config == {
        "job_name": "postgres",
        "metrics_path": "/metrics",
        "static_configs": [
            {"targets": ["10.0.0.2:9187"], "labels": {"instance": "db1"}},
            {"targets": ["10.0.0.3:9187"], "labels": {"instance": "db2"}},
        ],
    }


def test_a_probe_job_goes_through_the_blackbox_exporter():
    job = {
        "name": "https",
        "group": "nginx",
        "port": 9115,
        "probe": {"via": "mon1", "module": "m", "url": "https://{host}/readyz"},
    }
    (config,) = scrape_configs([job], GROUPS, HOSTVARS)
    assert config["metrics_path"] == "/probe" and config["params"] == {"module": ["m"]}
    assert config["static_configs"] == [{"targets": ["https://lb1/readyz"], "labels": {"instance": "lb1"}}]
    assert config["relabel_configs"][1] == {"target_label": "__address__", "replacement": "10.0.0.1:9115"}


@pytest.mark.parametrize(
    ("lb1_vars", "target"),
    [({}, "https://lb1/readyz"), ({"nginx_server_name": "shop.example.com"}, "https://shop.example.com/readyz")],
)
def test_a_probe_asks_for_the_site_by_its_server_name(lb1_vars, target):
    # nginx refuses a name it does not serve: the probe uses nginx_server_name, the inventory name by default.
    job = {
        "name": "https",
        "group": "nginx",
        "port": 9115,
        "probe": {"via": "mon1", "module": "m", "url": "https://{server_name}/readyz"},
    }
    hostvars = {**HOSTVARS, "lb1": {**HOSTVARS["lb1"], **lb1_vars}}
    (config,) = scrape_configs([job], GROUPS, hostvars)
    assert config["static_configs"] == [{"targets": [target], "labels": {"instance": "lb1"}}]


def test_a_probe_refuses_a_server_name_that_is_not_one_name():
    job = {
        "name": "https",
        "group": "nginx",
        "port": 9115,
        "probe": {"via": "mon1", "module": "m", "url": "https://{server_name}/"},
    }
    hostvars = {**HOSTVARS, "lb1": {**HOSTVARS["lb1"], "nginx_server_name": "a.example b.example"}}
    message = r"nginx_server_name of lb1 is 'a\.example b\.example', not one DNS name"
    with pytest.raises(AnsibleFilterError, match=message):
        scrape_configs([job], GROUPS, hostvars)


def test_a_group_missing_from_the_inventory_gives_no_job():
    assert scrape_configs([{"name": "redis", "group": "redis", "port": 9121}], GROUPS, HOSTVARS) == []


@pytest.mark.parametrize(
    ("jobs", "message"),
    [
        (
            [{"name": "x", "hosts": ["db1", "db9.example.com"], "port": 1}],
            "names db9.example.com, not in the inventory",
        ),
        ([{"name": "x", "port": 1}], "neither a group nor hosts"),
        ([{"name": "x", "group": "nginx", "port": 1}] * 2, "x used more than once"),
        (
            [{"name": "x", "group": "nginx", "port": 1, "probe": {"via": "nowhere", "module": "m", "url": "u"}}],
            "probes through 'nowhere', not in the inventory",
        ),
        ("node", "expects a list of jobs"),
    ],
)
def test_refusals_say_what_to_fix(jobs, message):
    with pytest.raises(AnsibleFilterError, match=message):
        scrape_configs(jobs, GROUPS, HOSTVARS)


def test_a_host_without_facts_is_refused():
    with pytest.raises(AnsibleFilterError, match="no address for db2"):
        scrape_configs([{"name": "pg", "group": "postgres", "port": 1}], GROUPS, {"db1": HOSTVARS["db1"], "db2": {}})
