"""playbooks/patch.yml in Patroni mode: the pre-checks refuse a paused cluster and a member that is not streaming
before anything changes; a run under pgbench through PgBouncer patches the replica, moves the leader away through
Patroni (the switchover role) and patches the old leader, every member's server restarted by Patroni's unit (never
Debian's), without a failed transaction, and leaves every member streaming on the leader's timeline. When the
upgrade asks for a reboot, each member is rebooted in that order instead, under pgbench too: Patroni brings each back.

The upgrade comes from the lab tests' local apt repository (tests/lab/aptrepo.py, webstack-patchdemo 1.0 to 1.1),
never from the mirror; its postinst replaces the server's binary under the running server as an upgrade of
postgresql-17 does (a new file renamed over the old one, while patch.yml's apt runs on that host): needrestart then
names Patroni's unit, whose processes the server's are. The counts and the playbook's duration are printed."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO, playbook, wait_for

sys.path.insert(0, str(REPO / "tests" / "lab"))
import aptrepo  # the lab tests' fixture, with the scenario's containers

PACKAGES = json.dumps({"patch_scope": "all", "patch_packages": [aptrepo.PATCHDEMO]})
# pgbench must outlast patch.yml (checked): the playbook took 73 s here (2026-12-05).
PGBENCH_SECONDS = 150
SERVER = "/usr/lib/postgresql/17/bin/postgres"
HOOK = "/etc/webstack-patchdemo/upgrade-hook"


def patroni_unit(host) -> str:
    return host.check_output("systemctl list-units 'patroni@*' --state=running --plain --no-legend | cut -d' ' -f1")


def restart_marks(cluster) -> dict[str, tuple[str, str]]:
    """Per member: when Patroni's unit last started (monotonic) and when the server last started."""
    marks = {}
    for name, host in cluster.hosts.items():
        unit = host.check_output(f"systemctl show -p ActiveEnterTimestampMonotonic --value {patroni_unit(host)}")
        marks[name] = (unit, cluster.sql(name, "SELECT pg_postmaster_start_time()").stdout.strip())
    return marks


def healthy(cluster) -> bool:
    """One running leader, every other member streaming, all on one timeline."""
    members = cluster.members()
    roles = sorted((m["Role"], m["State"]) for m in members)
    return roles == [("Leader", "running"), ("Replica", "streaming")] and len({m["TL"] for m in members}) == 1


@pytest.fixture
def pending_upgrade(cluster, tmp_path):
    """webstack-patchdemo 1.0 on every member with 1.1 to upgrade to, whose postinst replaces the server's binary."""
    workdir = aptrepo.build(tmp_path / "apt")
    for name, container in cluster.containers.items():
        aptrepo.install(workdir, name, [aptrepo.PATCHDEMO], container=container)
        host = cluster.hosts[name]
        assert patroni_unit(host) not in host.check_output("needrestart -b -r l")  # nothing runs old code yet
        host.check_output(
            "mkdir -p /etc/webstack-patchdemo && printf '#!/bin/sh\\ncp -p %s %s.new && mv %s.new %s\\n' "
            f"{SERVER} {SERVER} {SERVER} {SERVER} > {HOOK} && chmod 0755 {HOOK}"
        )
    yield
    for name, container in cluster.containers.items():
        aptrepo.remove(name, container=container)


@pytest.mark.parametrize("fault", ["paused", "replica stopped"])
def test_the_pre_checks_refuse_an_unhealthy_patroni_cluster(cluster, fault, tmp_path):
    assert wait_for(lambda: healthy(cluster), 90), cluster.members()
    leader = cluster.leader()
    replica = next(name for name in cluster.hosts if name != leader)
    replica_host = cluster.hosts[replica]
    unit = patroni_unit(replica_host)
    if fault == "paused":
        assert cluster.patronictl("pause", "--wait").rc == 0
        expected = "Patroni's cluster is paused (maintenance mode, `patronictl pause`)"
    else:
        replica_host.check_output(f"systemctl stop {unit}")
        expected = f"{replica} is stopped in Patroni's cluster, not streaming from the leader"
    try:
        rc, output = playbook("patch.yml", "-e", PACKAGES, "-e", f"patch_report_dir={tmp_path}")
    finally:
        if fault == "paused":
            cluster.patronictl("resume", "--wait")
        else:
            replica_host.check_output(f"systemctl start {unit}")
    assert rc != 0, output[-4000:]
    assert "No host was patched: Patroni's cluster postgres is not healthy enough" in output, output[-4000:]
    assert expected in output, output[-4000:]
    assert "Run this again once `patronictl list` shows one running leader" in output
    for host in cluster.hosts.values():
        assert host.run("test -e /usr/sbin/policy-rc.d").rc != 0
    assert "Upgrade with service starts held" not in output
    assert wait_for(lambda: healthy(cluster), 120), cluster.members()
    assert cluster.leader() == leader


def test_patch_under_pgbench_restarts_every_member_through_patroni(cluster, pgbench, pending_upgrade, tmp_path):
    assert wait_for(lambda: healthy(cluster), 90), cluster.members()
    old = cluster.leader()
    before = restart_marks(cluster)
    load = pgbench("patch_probe", PGBENCH_SECONDS)
    time.sleep(3)  # pgbench writes through PgBouncer before anything starts
    started = time.monotonic()
    rc, output = playbook("patch.yml", "-e", PACKAGES, "-e", f"patch_report_dir={tmp_path}", timeout=900)
    seconds = time.monotonic() - started
    still_writing = load.running()
    bench = load.finish()
    new = cluster.leader()
    rows = cluster.sql(new, "SELECT count(*) FROM patch_probe", db="shop").stdout.strip() if new else ""
    print(
        f"\npatch.yml through Patroni under pgbench through PgBouncer: {bench.processed} transactions, "
        f"{bench.failed} failed, {rows} rows on {new}; leader {old} -> {new}; the playbook took {seconds:.0f} s"
    )
    assert rc == 0, output[-6000:]
    assert still_writing, "pgbench ended before the playbook: the members were not patched under load"
    assert "aborted" not in bench.out + bench.err, bench.out + bench.err
    assert bench.failed == 0 and bench.processed > 0, bench.out + bench.err
    assert int(rows) == bench.processed, (rows, bench.out)
    report = json.loads(next(Path(tmp_path).glob("patch-*.json")).read_text())
    rows_by_host = {row["host"]: row for row in report["hosts"]}
    after = restart_marks(cluster)
    for name, container in cluster.containers.items():
        host = cluster.hosts[name]
        row = rows_by_host[container]
        assert row["status"] == "patched", row
        # Patroni's unit restarted, last (and with it the server), never Debian's; the server runs the new binary.
        assert row["restarted"] == ["webstack-patchdemo.service", patroni_unit(host)], row
        assert after[name][0] != before[name][0] and after[name][1] != before[name][1], (before, after)
        assert host.run("systemctl is-active postgresql@17-main.service").stdout.strip() == "inactive"
        assert "(deleted)" not in host.check_output("readlink /proc/$(pgrep -o -u postgres -x postgres)/exe")
        assert host.check_output("cat /run/webstack-patchdemo.version") == "1.1"
        assert host.run("test -e /usr/sbin/policy-rc.d").rc != 0
    assert new is not None and new != old, cluster.members()
    assert healthy(cluster), cluster.members()
    assert all(cluster.streams_from_leader(name) for name in cluster.hosts if name != new), cluster.members()


def started_at(container: str) -> str:
    return subprocess.run(
        ["podman", "inspect", "-f", "{{.State.StartedAt}}", container], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def restart_policy(cluster):
    """What the lab's --restart=always does (the podman driver cannot set it): a member's container that exits, as
    systemd's reboot in a container does, is started again."""
    done = threading.Event()

    def restart():
        while not done.wait(0.5):
            for container in cluster.containers.values():
                state = subprocess.run(
                    ["podman", "inspect", "-f", "{{.State.Status}}", container],
                    capture_output=True,
                    text=True,
                    check=False,
                ).stdout.strip()
                if state in ("exited", "stopped"):
                    subprocess.run(["podman", "start", container], capture_output=True, check=False)

    watcher = threading.Thread(target=restart, daemon=True)
    watcher.start()
    yield
    done.set()
    watcher.join()


def test_patch_that_asks_for_a_reboot_reboots_every_member_in_turn_under_pgbench(
    cluster, pgbench, pending_upgrade, restart_policy, tmp_path
):
    assert wait_for(lambda: healthy(cluster), 90), cluster.members()
    for host in cluster.hosts.values():
        # The upgrade's postinst asks for a reboot, as a kernel's does.
        host.check_output(f"echo 'touch /run/reboot-required' >> {HOOK}")
    old = cluster.leader()
    booted = {name: started_at(container) for name, container in cluster.containers.items()}
    load = pgbench("patch_reboot_probe", PGBENCH_SECONDS + 150)
    time.sleep(3)
    started = time.monotonic()
    rc, output = playbook(
        "patch.yml",
        *("-e", PACKAGES, "-e", f"patch_report_dir={tmp_path}"),
        # A container's kernel boot id is the machine's: PID 1's start time tells a rebooted one (as the lab's).
        *("-e", json.dumps({"patch_boot_time_command": "cut -d' ' -f22 /proc/1/stat"})),
        timeout=1200,
    )
    seconds = time.monotonic() - started
    still_writing = load.running()
    bench = load.finish()
    new = cluster.leader()
    print(
        f"\npatch.yml with a reboot, through Patroni under pgbench through PgBouncer: {bench.processed} transactions, "
        f"{bench.failed} failed; leader {old} -> {new}; the playbook took {seconds:.0f} s"
    )
    assert rc == 0, output[-6000:]
    assert still_writing, "pgbench ended before the playbook: the members were not rebooted under load"
    assert "aborted" not in bench.out + bench.err, bench.out + bench.err
    assert bench.failed == 0 and bench.processed > 0, bench.out + bench.err
    report = json.loads(next(Path(tmp_path).glob("patch-*.json")).read_text())
    rows_by_host = {row["host"]: row for row in report["hosts"]}
    for name, container in cluster.containers.items():
        row = rows_by_host[container]
        assert row["status"] == "patched" and row["rebooted"] is True, row
        assert started_at(container) != booted[name]
        host = cluster.hosts[name]
        assert host.run("test -e /run/reboot-required").rc != 0
        assert host.run("systemctl is-active postgresql@17-main.service").stdout.strip() == "inactive"
    assert new is not None and new != old, cluster.members()
    assert wait_for(lambda: healthy(cluster), 60), cluster.members()
