"""Monitoring on the lab: real faults fire real alerts. (That Prometheus on mon1 scrapes every target, and the
console page, are the monitoring scenario's checks, run on the lab by test_monitoring_tier.py.)

Each fault test breaks one thing, waits for the alert in Prometheus' /api/v1/alerts, then restores and waits
for the alert to clear. The waits follow inventories/lab/group_vars/monitoring.yml (10 s scrapes, 5 s evaluations,
short `for`).
"""

import json
import re
import shlex
import time

import pytest
from conftest import on_host, primary
from scenario_checks import LabInventory

BUILD_REPORT = (
    "systemd-run --wait --pipe --quiet --collect -p User=shop -p Group=shop "
    "-p EnvironmentFile=/srv/shop/shared/app.env /srv/shop/current/venv/bin/python -c "
)

# A WAL record, then a switch to the next segment: one more segment for the archiver. The query returns the name of
# the segment it completed.
NEW_WAL = (
    "SELECT pg_walfile_name(lsn) FROM "
    "(SELECT pg_logical_emit_message(false, 'webstack-test', 'x'), pg_switch_wal() AS lsn) AS switched"
)
ARCHIVE_FAILING = (
    "SELECT coalesce(last_failed_time > coalesce(last_archived_time, 'epoch'), false) FROM pg_stat_archiver"
)


def psql_row(host, query):
    return on_host(host, f"runuser -u postgres -- psql -XAtqc {shlex.quote(query)}")


def prometheus(path):
    """GET Prometheus' API on mon1 (it listens on mon1's private address only)."""
    script = (
        "import json, socket, sys, urllib.request; "
        "address = socket.gethostbyname(socket.gethostname()); "
        f"sys.stdout.write(urllib.request.urlopen('http://%s:9090{path}' % address, timeout=10).read().decode())"
    )
    return json.loads(on_host("mon1", f"python3 -c {shlex.quote(script)}"))["data"]


def firing(alertname, **labels):
    return [
        alert
        for alert in prometheus("/api/v1/alerts")["alerts"]
        if alert["labels"]["alertname"] == alertname
        and alert["state"] == "firing"
        and all(alert["labels"].get(key) == value for key, value in labels.items())
    ]


def wait_for(what, check, timeout, step=2):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(step)


def console_sections():
    """The platform console page on mon1, by section (its <h2> ids)."""
    page = on_host("mon1", "curl -fsS http://$(hostname -I | cut -d' ' -f1):9090/consoles/webstack.html")
    assert "error executing template" not in page and "<no value>" not in page
    return dict(part.split('">', 1) for part in page.split('<h2 id="')[1:])


def test_the_console_page_shows_each_app_servers_unit_active():
    inventory = LabInventory()
    app_servers = inventory.hosts("app")
    unit = inventory.variables(app_servers[0], "uvicorn")["uvicorn_app_name"] + ".service"
    table = console_sections()["web"].split("<th>app server unit (upstream)</th>", 1)[1].split("</table>", 1)[0]
    # Each row: the unit, its host, and its active state as the node exporter exports it (a link to its graph).
    rows = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td>\s*<a [^>]*>([^<]*)</a>", table)
    assert sorted(rows) == [(unit, host, "1") for host in sorted(app_servers)], rows


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


def test_an_object_store_that_refuses_the_primary_fires_wal_archive_failing():
    database = primary()
    address = on_host(database, "hostname -I").split()[0]

    def export_archive_state():
        # It fails while pgBackRest cannot read the store, after it has written the archive's state.
        on_host(database, "systemctl start webstack-backup-metrics.service || true")

    def archiving_fails():
        psql_row(database, NEW_WAL)
        return psql_row(database, ARCHIVE_FAILING) == "t"

    # The store answers the primary with resets (a rule put first in s3's firewall): archive-push fails at once, where
    # a silent drop would first wait out pgBackRest's timeouts. Reloading the firewall takes the rule out again.
    on_host(
        "s3", f"nft insert rule inet webstack_firewall input ip saddr {address} tcp dport 9000 reject with tcp reset"
    )
    try:
        wait_for("archive_command failing", archiving_fails, timeout=120)
        export_archive_state()
        wait_for("WebstackWalArchiveFailing", lambda: firing("WebstackWalArchiveFailing"), timeout=180)
    finally:
        on_host("s3", "systemctl reload nftables.service")
    # The archiver takes the segments in order: once this one is archived, every failed one is. A new segment wakes
    # an archiver that sleeps after its failures (up to a minute).
    newest = psql_row(database, NEW_WAL)

    def archive_caught_up():
        if psql_row(database, f"SELECT last_archived_wal >= '{newest}' FROM pg_stat_archiver") == "t":
            return True
        psql_row(database, NEW_WAL)
        return False

    wait_for("the archive caught up", archive_caught_up, timeout=180)
    export_archive_state()
    wait_for("WebstackWalArchiveFailing cleared", lambda: not firing("WebstackWalArchiveFailing"), timeout=180)
    # Later tests count archive failures from here.
    psql_row(database, "SELECT pg_stat_reset_shared('archiver')")
    on_host(database, "systemctl start webstack-backup-metrics.service")
