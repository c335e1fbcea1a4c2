"""Monitoring on the lab: real faults fire real alerts. (That Prometheus on mon1 scrapes every target, and the
console page, are the monitoring scenario's checks, run on the lab by test_monitoring_tier.py.)

Each fault test breaks one thing, waits for the alert in Prometheus' /api/v1/alerts, then restores and waits
for the alert to clear. The waits follow inventories/lab/group_vars/monitoring.yml (10 s scrapes, 5 s evaluations,
short `for`).
"""

import re
import shlex
import time

from alerts import firing, wait_for
from conftest import on_host, primary
from scenario_checks import LabInventory

# For the tests beside it (conftest.LAB_PARTS): stops the standby and a Celery worker, waits for their alerts.
LAB_USES = {
    "app": "exclusive",
    "cache": "shared",
    "database": "shared",
    "monitoring": "exclusive",
    "primary": "exclusive",
}

BUILD_REPORT = (
    "systemd-run --wait --pipe --quiet --collect -p User=shop -p Group=shop "
    "-p EnvironmentFile=/srv/shop/shared/app.env /srv/shop/current/venv/bin/python -c "
)


def console_sections():
    """The platform console page on mon1, by section (its <h2> ids)."""
    page = on_host("mon1", "curl -fsS http://$(hostname -I | cut -d' ' -f1):9090/consoles/webstack.html")
    assert "error executing template" not in page and "<no value>" not in page
    return dict(part.split('">', 1) for part in page.split('<h2 id="')[1:])


def app_server_rows():
    """The console's app server table: (unit, host, active state as the node exporter exports it) per row."""
    table = console_sections()["web"].split("<th>app server unit (upstream)</th>", 1)[1].split("</table>", 1)[0]
    # Each row: the unit, its host, and its active state (a link to its graph).
    return sorted(re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td>\s*<a [^>]*>([^<]*)</a>", table))


def test_the_console_page_shows_each_app_servers_unit_active():
    inventory = LabInventory()
    app_servers = inventory.hosts("app")
    unit = inventory.variables(app_servers[0], "uvicorn")["uvicorn_app_name"] + ".service"
    expected = [(unit, host, "1") for host in sorted(app_servers)]
    # The page shows the state Prometheus scraped last (every 10 s): the module before this one may have restarted
    # an app server a moment ago (seen 2026-12-07: test_uvicorn_tier restarted app1's unit 6 s before, the page said 0).
    deadline = time.monotonic() + 60
    while (rows := app_server_rows()) != expected and time.monotonic() < deadline:
        time.sleep(2)
    assert rows == expected, rows


def test_stopping_the_standby_fires_standby_not_streaming():
    standby = "db2" if primary() == "db1" else "db1"
    on_host(standby, "systemctl stop postgresql")
    try:
        wait_for("WebstackStandbyNotStreaming", lambda: firing("WebstackStandbyNotStreaming"), timeout=240)
    finally:
        on_host(standby, "systemctl start postgresql")
    wait_for("WebstackStandbyNotStreaming cleared", lambda: not firing("WebstackStandbyNotStreaming"), timeout=240)


def test_stopped_workers_with_tasks_queued_fire_no_worker():
    on_host("worker1", "systemctl stop celery-reports")
    try:
        on_host(
            "worker1",
            BUILD_REPORT + shlex.quote("from shop.tasks import build_report\nfor _ in range(3): build_report.delay()"),
        )
        wait_for(
            "WebstackCeleryQueueNoWorker", lambda: firing("WebstackCeleryQueueNoWorker", key="reports"), timeout=300
        )
    finally:
        on_host("worker1", "systemctl start celery-reports")
    wait_for("WebstackCeleryQueueNoWorker cleared", lambda: not firing("WebstackCeleryQueueNoWorker"), timeout=240)
