"""Prometheus scrapes every exporter of the inventory, the exporters listen on the private address only,
and a real fault (Redis stopped) makes the real alert fire in Prometheus and reach Alertmanager.

The hosts and what they must show come from the `tier` fixture: conftest.py gives the scenario's two instances,
tests/lab/test_monitoring_tier.py the lab's mon1 and cache1 and the exporters of every lab host.
"""

import json
import os
import re
import shlex
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

LOGS = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", ".")) / ".cache" / "logs"
EXPORTER_METRICS = Path(__file__).resolve().parents[3] / "tests/unit/roles/prometheus/exporter_metrics.yml"
# The console page's sections (roles/prometheus/templates/webstack.html.j2), one per tier.
CONSOLE_SECTIONS = ["alerts", "targets", "web", "postgresql", "backups", "pgbouncer", "redis", "celery", "hosts"]
# The sections that list the instances of a scrape job (those the tier has).
SECTION_JOBS = {"web": "nginx", "postgresql": "postgres", "pgbouncer": "pgbouncer", "redis": "redis"}
# Series of the tiers this scenario does not run, in the values their exporters give, for the console's rows
# (none crosses an alert threshold). Served for one test through the cache host's textfile collector.
SAMPLE_SERIES = """\
nginx_up 1
nginx_connections_active 3
webstack_nginx_responses_total{status="200"} 100
webstack_nginx_upstream_errors_total 2
probe_success 1
probe_duration_seconds 0.05
probe_ssl_earliest_cert_expiry 4102444800
pg_up 1
webstack_pg_wal_receiver_in_recovery 0
webstack_pg_wal_receiver_streaming 0
webstack_pg_replication_replay_lag_seconds{application_name="db2",state="streaming"} 0.5
webstack_pg_replication_replay_lag_bytes{application_name="db2",state="streaming"} 4096
webstack_pg_slot_active{slot_name="db2"} 1
webstack_pg_slot_retained_bytes{slot_name="db2"} 16777216
webstack_backup_last_age_seconds{stanza="main"} 3600
webstack_backup_wal_archive_age_seconds{stanza="main"} 42
webstack_backup_wal_pending_bytes{stanza="main"} 0
webstack_backup_wal_archive_failing{stanza="main"} 0
webstack_backup_wal_archive_failed_count{stanza="main"} 0
pgbouncer_up 1
pgbouncer_pools_client_waiting_connections{database="shop",user="shop"} 2
pgbouncer_pools_client_active_connections{database="shop",user="shop"} 7
pgbouncer_pools_client_maxwait_seconds{database="shop",user="shop"} 0.25
"""


def own_address(host):
    return json.loads(host.check_output("ip -4 -j route get 192.0.2.1"))[0]["prefsrc"]


def api(host, url):
    """GET a JSON API from the monitoring host itself (Prometheus listens on its private address only)."""
    script = f"import urllib.request, sys; sys.stdout.write(urllib.request.urlopen({url!r}, timeout=5).read().decode())"
    return json.loads(host.check_output(f"python3 -c {json.dumps(script)}"))


def get(host, url):
    """GET a URL from the monitoring host: (status, body), whatever the status."""
    script = (
        "import json, sys, urllib.error, urllib.request\n"
        "try:\n"
        f"    answer = urllib.request.urlopen({url!r}, timeout=10)\n"
        "except urllib.error.HTTPError as error:\n"
        "    answer = error\n"
        "sys.stdout.write(json.dumps([answer.status, answer.read().decode(errors='replace')]))\n"
    )
    status, body = json.loads(host.check_output(f"python3 -c {shlex.quote(script)}"))
    return status, body


def query(host, expr):
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


def test_every_target_is_up(host, tier):
    def all_up():
        targets = api(host, f"http://{own_address(host)}:9090/api/v1/targets")["data"]["activeTargets"]
        jobs = {(t["labels"]["job"], t["labels"]["instance"]): t["health"] for t in targets}
        return jobs if jobs and all(health == "up" for health in jobs.values()) else None

    jobs = wait_for("every target up", all_up, timeout=90)
    assert set(jobs) == tier.targets
    # Samples per scrape of each exporter, for the report (not asserted: a measurement).
    samples = {
        f"{r['metric']['job']}/{r['metric']['instance']}": int(float(r["value"][1]))
        for r in query(host, "scrape_samples_scraped")
    }
    LOGS.mkdir(parents=True, exist_ok=True)
    (LOGS / f"{tier.name}-samples.json").write_text(json.dumps(samples, indent=1, sort_keys=True) + "\n")


def test_exporters_listen_on_the_private_address_only(host, tier):
    for container, ports in tier.listening_ports.items():
        target = host.get_host(f"podman://{container}")
        address = own_address(target)
        listening = json.loads(
            target.check_output(
                "ss -Hltn -O | awk '{print $4}'"
                " | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read().split()))'"
            )
        )
        for port in ports:
            bound = [entry for entry in listening if entry.rsplit(":", 1)[1] == str(port)]
            assert bound == [f"{address}:{port}"], (container, port, bound)


def test_node_collectors_reach_prometheus(host, tier):
    # systemd units (which Celery queues have a worker) and apt's reboot-required (the collectors' timer)
    wait_for(
        "redis-server's unit state",
        lambda: query(host, 'node_systemd_unit_state{name="redis-server.service",state="active"} == 1'),
    )
    tier.cache.run("systemctl start prometheus-node-exporter-apt.service")
    wait_for("node_reboot_required", lambda: query(host, f'node_reboot_required{{instance="{tier.cache_instance}"}}'))


def test_the_metrics_the_console_pages_rely_on_are_exported(host, tier, waiting_tasks):
    # waiting_tasks: on Debian 13 redis_key_size exists only while a queue holds tasks.
    # tests/unit/roles/prometheus/exporter_metrics.yml lists the exporters' metric names the console may query;
    # those of the exporters this scenario runs (the lab runs them all) must be in its Prometheus (the apt ones
    # after the collectors ran).
    listed = yaml.safe_load(EXPORTER_METRICS.read_text())
    wanted = {
        name for exporter in listed.values()
        if tier.runs_every_exporter or exporter.get("checked_in") == "molecule/monitoring"
        for name in exporter["names"]
    }  # fmt: skip
    url = f"http://{own_address(host)}:9090/api/v1/label/__name__/values"
    tier.cache.run("systemctl start prometheus-node-exporter-apt.service")
    # Debian 13's apt collector (apt_info.py) writes apt_upgrades_pending only for packages that have an upgrade
    # (Debian 12's writes 0): with none pending there is no series to find (the console reads 0, the alert stays
    # silent). Its own test: does python3-apt, which it uses, see an upgradable package?
    upgradable = "python3 -c 'import apt, sys; sys.exit(0 if any(p.is_upgradable for p in apt.Cache()) else 1)'"
    if tier.cache.system_info.codename != "bookworm" and not any(
        target.run(upgradable).rc == 0 for target in (tier.mon, tier.cache)
    ):
        wanted.discard("apt_upgrades_pending")
    deadline = time.monotonic() + 60
    while (missing := wanted - set(api(host, url)["data"])) and time.monotonic() < deadline:
        time.sleep(2)
    assert not missing, f"not exported: {sorted(missing)}"


def instances(tier, job):
    """The instances the tier's Prometheus scrapes for a job."""
    return sorted(instance for target_job, instance in tier.targets if target_job == job)


def console_page(host):
    """The console page, checked for template errors, and its sections by id."""
    status, page = get(host, f"http://{own_address(host)}:9090/consoles/webstack.html")
    assert status == 200, page[:2000]
    assert "error executing template" not in page and "<no value>" not in page
    return page, dict(part.split('">', 1) for part in page.split('<h2 id="')[1:])


def test_empty_celery_queues_read_0_and_a_waiting_one_its_tasks(host, waiting_tasks):
    # Debian 13's Redis exporter gives the empty queues no redis_key_size; every queue still has its row.
    def read():
        values = {r["metric"]["key"]: float(r["value"][1]) for r in query(host, "webstack:celery_queue_tasks")}
        return values if values == waiting_tasks else None

    wait_for("webstack:celery_queue_tasks", read, timeout=60)
    _page, sections = console_page(host)
    for queue, tasks in waiting_tasks.items():
        assert re.search(rf"<td>{queue}</td>\s*<td>{tasks}</td>", sections["celery"]), sections["celery"]


def test_the_platform_console_page_renders_every_tier(host, tier):
    page, sections = console_page(host)
    assert list(sections) == CONSOLE_SECTIONS
    # The tables hold the tier's data: every target's job, the hosts of each tier scraped, the Celery queues and
    # every host.
    rows = {
        "targets": sorted({job for job, _instance in tier.targets}),
        **{section: instances(tier, job) for section, job in SECTION_JOBS.items()},
        "celery": ["default", "emails", "imports", "reports"],
        "hosts": instances(tier, "node"),
    }
    for section, cells in rows.items():
        assert all(f"<td>{cell}</td>" in sections[section] for cell in cells), (section, sections[section])
    # The scripts and styles prom.lib links answer, so the graphs can draw. Debian's prom.lib still names
    # d3.layout.min.js, which Debian does not ship: d3 3.5 (libjs-d3) has d3.layout built in. (Its popper.js is
    # a directory: 200 with a listing; roles/prometheus/README.md.)
    assets = re.findall(r'(?:src|href)="(/classic/static/[^"]+)"', page)
    assert "/classic/static/js/prom_console.js" in assets
    unserved = [asset for asset in assets if get(host, f"http://{own_address(host)}:9090{asset}")[0] != 200]
    assert unserved in ([], ["/classic/static/vendor/rickshaw/vendor/d3.layout.min.js"]), unserved
    # The graphs' queries run in the browser, not in the template: each must be one Prometheus accepts.
    graphs = [
        json.loads(expr)
        for exprs in re.findall(r'webstackGraph\("[^"]+", \[(.*?)\], \[', page)
        for expr in re.findall(r'"(?:[^"\\]|\\.)*"', exprs)
    ]
    assert len(graphs) >= 10, graphs
    for expr in graphs:
        assert api(host, f"http://{own_address(host)}:9090/api/v1/query?query={quote(expr)}")["status"] == "success"


def test_the_console_page_renders_the_rows_of_every_tier(host, tier):
    # Go templates fail at run time, in a row only rendered with data: every table gets rows here.
    cache = tier.cache
    textfile = "/var/lib/prometheus/node-exporter/molecule-console-sample.prom"
    cache.check_output(f"printf %s {shlex.quote(SAMPLE_SERIES)} > {textfile}.tmp && mv {textfile}.tmp {textfile}")
    try:
        wait_for(
            "the sample series",
            lambda: query(host, f'pgbouncer_up{{instance="{tier.cache_instance}"}}'),
            timeout=60,
        )
        _page, sections = console_page(host)
    finally:
        cache.check_output(f"rm -f {textfile}")
    served_by = tier.cache_instance
    expected = {
        "web": [f"<td>{served_by}</td>", "days</a>"],
        "postgresql": ["<td>primary</td>", f"db2 (primary {served_by})", f"db2 (on {served_by})"],
        "backups": [f"main ({served_by})", "1h 0m 0s"],
        "pgbouncer": [f"<td>{served_by}</td>", "0.25s"],
    }
    for section, texts in expected.items():
        assert all(text in sections[section] for text in texts), (section, sections[section])


def test_stopping_redis_fires_the_redis_down_alert_then_it_clears(host, tier):
    cache = tier.cache
    assert query(host, f'redis_up{{instance="{tier.cache_instance}"}}')[0]["value"][1] == "1"
    started = time.monotonic()
    cache.check_output("systemctl stop redis-server")
    try:
        alerts = wait_for("WebstackRedisDown firing", lambda: firing(host, "WebstackRedisDown"), timeout=120)
        fired_after = time.monotonic() - started
        assert alerts[0]["labels"]["instance"] == tier.cache_instance
        assert "playbooks/site.yml" in alerts[0]["annotations"]["runbook"]

        def in_alertmanager():
            found = api(host, f"http://{own_address(host)}:9093/api/v2/alerts")
            return [a for a in found if a["labels"]["alertname"] == "WebstackRedisDown"]

        wait_for("WebstackRedisDown in Alertmanager", in_alertmanager, timeout=60)
        (LOGS / f"{tier.name}-alert.json").write_text(
            json.dumps({"redis_down_fired_after_s": round(fired_after, 1)}) + "\n"
        )
    finally:
        cache.check_output("systemctl start redis-server")
    wait_for("WebstackRedisDown cleared", lambda: not firing(host, "WebstackRedisDown") or None, timeout=120)


def refused(tier, role, extra_vars):
    """refusals.yml (one role) against the tier's monitoring host in check mode with one bad input."""
    returncode, output = tier.refusals("--check", "-e", f"refusal_role={role}", "-e", json.dumps(extra_vars))
    output = " ".join(output.split())
    assert returncode == 2, output
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
def test_bad_input_is_refused_before_any_change(tier, role, extra_vars, expected):
    output = refused(tier, role, extra_vars)
    assert expected in output
    # No task reported a change (a result printed as YAML may hold "changed: false").
    assert "changed=0" in output and " changed: [" not in output
