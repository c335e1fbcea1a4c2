"""Prometheus scrapes every exporter of the inventory, the exporters listen on the private address only,
and a real fault (Redis stopped) makes the real alert fire in Prometheus and reach Alertmanager."""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

testinfra_hosts = ["podman://molecule-monitoring-mon"]

CACHE = "podman://molecule-monitoring-cache"
LOGS = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", ".")) / ".cache" / "logs"


def own_address(host):
    return json.loads(host.check_output("ip -4 -j route get 192.0.2.1"))[0]["prefsrc"]


def api(host, url):
    """GET a JSON API from the monitoring host itself (Prometheus listens on its private address only)."""
    script = f"import urllib.request, sys; sys.stdout.write(urllib.request.urlopen({url!r}, timeout=5).read().decode())"
    return json.loads(host.check_output(f"python3 -c {json.dumps(script)}"))


def query(host, expr):
    from urllib.parse import quote

    return api(host, f"http://{own_address(host)}:9090/api/v1/query?query={quote(expr)}")["data"]["result"]


def wait_for(what, check, timeout=120, step=2):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(step)


def firing(host, alertname):
    alerts = api(host, f"http://{own_address(host)}:9090/api/v1/alerts")["data"]["alerts"]
    return [a for a in alerts if a["labels"]["alertname"] == alertname and a["state"] == "firing"]


def test_every_target_is_up(host):
    def all_up():
        targets = api(host, f"http://{own_address(host)}:9090/api/v1/targets")["data"]["activeTargets"]
        jobs = {(t["labels"]["job"], t["labels"]["instance"]): t["health"] for t in targets}
        return jobs if jobs and all(health == "up" for health in jobs.values()) else None

    jobs = wait_for("every target up", all_up, timeout=90)
    assert set(jobs) == {
        ("prometheus", "molecule-monitoring-mon"),
        ("alertmanager", "molecule-monitoring-mon"),
        ("node", "molecule-monitoring-mon"),
        ("node", "molecule-monitoring-cache"),
        ("redis", "molecule-monitoring-cache"),
    }
    # Samples per scrape of each exporter, for the report (not asserted: a measurement).
    samples = {
        f"{r['metric']['job']}/{r['metric']['instance']}": int(float(r["value"][1]))
        for r in query(host, "scrape_samples_scraped")
    }
    LOGS.mkdir(parents=True, exist_ok=True)
    (LOGS / "molecule-monitoring-samples.json").write_text(json.dumps(samples, indent=1, sort_keys=True) + "\n")


@pytest.mark.parametrize(
    ("container", "ports"),
    [("molecule-monitoring-mon", [9090, 9093, 9100, 9115]), ("molecule-monitoring-cache", [9100, 9121])],
)
def test_exporters_listen_on_the_private_address_only(host, container, ports):
    target = host.get_host(f"podman://{container}")
    address = own_address(target)
    listening = json.loads(
        target.check_output(
            "ss -Hltn -O | awk '{print $4}' | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read().split()))'"
        )
    )
    for port in ports:
        bound = [entry for entry in listening if entry.rsplit(":", 1)[1] == str(port)]
        assert bound == [f"{address}:{port}"], (port, bound)


def test_node_collectors_reach_prometheus(host):
    # systemd units (which Celery queues have a worker) and apt's reboot-required (the collectors' timer)
    wait_for(
        "redis-server's unit state",
        lambda: query(host, 'node_systemd_unit_state{name="redis-server.service",state="active"} == 1'),
    )
    host.get_host(CACHE).run("systemctl start prometheus-node-exporter-apt.service")
    wait_for("node_reboot_required", lambda: query(host, 'node_reboot_required{instance="molecule-monitoring-cache"}'))


def test_stopping_redis_fires_the_redis_down_alert_then_it_clears(host):
    cache = host.get_host(CACHE)
    assert query(host, 'redis_up{instance="molecule-monitoring-cache"}')[0]["value"][1] == "1"
    started = time.monotonic()
    cache.check_output("systemctl stop redis-server")
    try:
        alerts = wait_for("WebstackRedisDown firing", lambda: firing(host, "WebstackRedisDown"), timeout=120)
        fired_after = time.monotonic() - started
        assert alerts[0]["labels"]["instance"] == "molecule-monitoring-cache"
        assert "playbooks/site.yml" in alerts[0]["annotations"]["runbook"]

        def in_alertmanager():
            found = api(host, f"http://{own_address(host)}:9093/api/v2/alerts")
            return [a for a in found if a["labels"]["alertname"] == "WebstackRedisDown"]

        wait_for("WebstackRedisDown in Alertmanager", in_alertmanager, timeout=60)
        (LOGS / "molecule-monitoring-alert.json").write_text(
            json.dumps({"redis_down_fired_after_s": round(fired_after, 1)}) + "\n"
        )
    finally:
        cache.check_output("systemctl start redis-server")
    wait_for("WebstackRedisDown cleared", lambda: not firing(host, "WebstackRedisDown") or None, timeout=120)


def refused(role, extra_vars):
    """refusals.yml (one role) against the scenario's monitoring host in check mode with one bad input."""
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    env.setdefault("ANSIBLE_CONFIG", str(Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "ansible.cfg"))
    result = subprocess.run(
        ["ansible-playbook", "--check", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "-e", f"refusal_role={role}",
         "-e", json.dumps(extra_vars), str(Path(__file__).resolve().parents[1] / "refusals.yml")],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 2, output
    return output


@pytest.mark.parametrize(
    ("role", "extra_vars", "expected"),
    [
        (
            "exporters",
            {"exporters_enabled": ["node", "redis"]},
            "does not run redis-server.service (for the redis exporter)",
        ),
        ("prometheus", {"prometheus_alert_disk_free_percent": "ten"}, "prometheus_alert_disk_free_percent"),
        (
            "prometheus",
            {"prometheus_scrape_jobs": [{"name": "extra", "hosts": ["db9.example.org"], "port": 9100}]},
            "names db9.example.org, not in the inventory",
        ),
    ],
    ids=["exporter-without-service", "threshold-wrong-type", "target-outside-inventory"],
)
def test_bad_input_is_refused_before_any_change(role, extra_vars, expected):
    output = refused(role, extra_vars)
    assert expected in output
    assert "changed=0" in output and " changed: " not in output
