"""patch.yml on the lab with a local apt repository of our own (tests/lab/aptrepo.py): an upgrade that asks for
a reboot reboots exactly the hosts that need it (not a single-instance host); a service the upgrade breaks stops
the run with that app server drained and the hosts after it untouched, and the run resumed as its report says skips
the hosts already patched; the pre-checks refuse a stale backup and a lagging standby before anything changes.

The failed requests and transactions while the whole lab is patched under load are measured by
tests/benchmarks/patch_under_load.py, not asserted here.
"""

import json
import re

import aptrepo
import pytest
import yaml
from conftest import REPO, failure, on_host, playbook

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): patches and reboots app servers, lb1, cache1
# and drill1; reads the backup and the standby.
LAB_USES = {
    "app": "exclusive",
    "backup": "shared",
    "cache": "exclusive",
    "database": "shared",
    "drill": "exclusive",
    "primary": "shared",
}

# The units patch.yml answers with a reboot when they run old code (the role's own list).
NEVER_RESTARTED = set(yaml.safe_load((REPO / "roles/patch/vars/main.yml").read_text())["_patch_never_restart"])
PACKAGES = f'{{"patch_scope": "all", "patch_packages": ["{aptrepo.PATCHDEMO}", "{aptrepo.REBOOTDEMO}"]}}'


@pytest.fixture
def repo(tmp_path):
    """Build the packages; install 1.0 where a test asks, with the 1.1 repository as an apt source; clean up."""
    workdir = aptrepo.build(tmp_path / "apt")
    hosts = []

    def install(host, *packages):
        hosts.append(host)
        aptrepo.install(workdir, host, packages)

    yield install
    for host in hosts:
        aptrepo.remove(host)


def version_of(host, package):
    return on_host(host, f"dpkg-query -W -f='${{Version}}' {package} 2>/dev/null || true")


def started_at(host, unit):
    return on_host(host, f"systemctl show --property=ActiveEnterTimestampMonotonic --value {unit}")


def pid1_start(host):
    return on_host(host, "cut -d' ' -f22 /proc/1/stat")


def report_of(out):
    path = re.findall(r"report: (\S+/reports/patch-\S+\.json)", out)[-1]
    return json.loads((REPO / "reports" / path.rsplit("/", 1)[1]).read_text())


def run_current_code(host):
    """Clear what the lab's own provisioning leaves behind, so that the reboots a test sees are its packages' own.

    The lab's image is a Debian point release and site.yml pulls newer libraries from bookworm-security under
    running daemons: their postinst may write /run/reboot-required, and needrestart then names systemd-logind
    (seen on a lab built from nothing), which patch.yml rightly answers with a reboot (CI saw app2 reboot).
    """
    on_host(host, "rm -f /run/reboot-required /run/reboot-required.pkgs")
    stale = needs_restart(host)
    if "systemd-manager" in stale:
        on_host(host, "systemctl daemon-reexec")
    # Only active units: needrestart also names "ssh" for the sshd serving the lab's own connection (the lab's
    # hosts mask ssh.service).
    for unit in stale - {"systemd-manager"}:
        on_host(host, f"! systemctl is-active --quiet {unit} || systemctl restart {unit}")
    assert not needs_restart(host) & (NEVER_RESTARTED | {"systemd-manager"})


def needs_restart(host):
    return set(on_host(host, "needrestart -b -r l 2>/dev/null | sed -n 's/^NEEDRESTART-SVC: *//p'").split())


def upstream():
    return on_host("lb1", "webstack-upstream status")


def test_an_upgrade_that_asks_for_a_reboot_reboots_exactly_the_hosts_that_need_it(repo):
    # drill1 (the scratch host) needs the reboot; app2 only a service restart, behind its drain; cache1 needs a
    # reboot too, but has no peer (Redis), so it is left pending. drill1 reboots in seconds in the lab, an app
    # server in minutes (tests/benchmarks/patch_under_load.py reboots the app servers).
    repo("drill1", aptrepo.PATCHDEMO, aptrepo.REBOOTDEMO)
    repo("app2", aptrepo.PATCHDEMO)
    repo("cache1", aptrepo.REBOOTDEMO)
    hosts = ("drill1", "app2", "cache1")
    for host in hosts:
        run_current_code(host)
    boots = {host: pid1_start(host) for host in hosts}
    service_before = started_at("app2", "webstack-patchdemo.service")

    rc, out = playbook("playbooks/patch.yml", "--limit", ",".join(hosts), "-e", PACKAGES)

    assert rc == 0, failure(out)
    assert {host: pid1_start(host) != boots[host] for host in hosts} == {"drill1": True, "app2": False, "cache1": False}
    assert {version_of(h, aptrepo.PATCHDEMO) for h in ("drill1", "app2")} == {"1.1"}
    assert version_of("cache1", aptrepo.REBOOTDEMO) == "1.1"
    # app2's service was restarted in the role's own step (apt held it), and runs the new version.
    assert started_at("app2", "webstack-patchdemo.service") != service_before
    assert on_host("app2", "cat /run/webstack-patchdemo.version") == "1.1"
    assert on_host("drill1", "cat /run/webstack-patchdemo.version") == "1.1"
    assert on_host("app2", "test -e /usr/sbin/policy-rc.d && echo held || echo free") == "free"
    assert upstream() == "app1 active\napp2 active"
    report = {row["host"]: row for row in report_of(out)["hosts"]}
    assert report["drill1"]["rebooted"] and not report["app2"]["rebooted"] and not report["cache1"]["rebooted"]
    assert report["cache1"]["reboot_pending"]
    assert "webstack-patchdemo.service" in report["app2"]["restarted"]
    assert {"name": aptrepo.PATCHDEMO, "old": "1.0", "new": "1.1"} in report["app2"]["packages"]


def test_a_failing_health_check_stops_the_run_and_the_resumed_run_skips_the_hosts_it_patched(repo):
    # In patch.yml's order: app1 is patched, app2's upgrade breaks its service, drill1 (after the app servers) waits.
    for host in ("app1", "app2", "drill1"):
        repo(host, aptrepo.PATCHDEMO)
    run_current_code("drill1")
    on_host("app2", "mkdir -p /etc/webstack-patchdemo && touch /etc/webstack-patchdemo/broken")
    limit = ("--limit", "app1,app2,drill1")
    try:
        rc, out = playbook("playbooks/patch.yml", *limit, "-e", PACKAGES)

        assert rc != 0
        assert "Patching stopped at app2" in out
        assert upstream() == "app1 active\napp2 drained"
        assert on_host("app1", "cat /run/webstack-patchdemo.version") == "1.1"
        assert version_of("drill1", aptrepo.PATCHDEMO) == "1.0"
        assert on_host("drill1", "cat /run/webstack-patchdemo.version") == "1.0"
        report = report_of(out)
        assert report["stopped_at"] == "app2"
        assert report["resume"] == {"patch_done_hosts": ["app1"]}
        rows = {row["host"]: row for row in report["hosts"]}
        assert rows["app1"]["status"] == "patched"
        assert rows["app2"]["status"] == "failed" and "webstack-patchdemo.service" in rows["app2"]["reason"]
        assert rows["drill1"]["status"] == "left out"

        # A second run refuses while app2 is still drained.
        rc, out = playbook("playbooks/patch.yml", "--limit", "app1,app2,drill1,lb1", "-e", PACKAGES)
        assert rc != 0 and "app2 is drained in the load balancer lb1" in out

        # The operator mends app2 and puts it back, then resumes as the report says: app1 is not touched again.
        on_host("app2", "rm /etc/webstack-patchdemo/broken && systemctl restart webstack-patchdemo")
        on_host("lb1", "webstack-upstream active app2 >/dev/null")
        app1_service = started_at("app1", "webstack-patchdemo.service")
        rc, out = playbook("playbooks/patch.yml", *limit, "-e", PACKAGES, "-e", json.dumps(report["resume"]))

        assert rc == 0, failure(out)
        assert started_at("app1", "webstack-patchdemo.service") == app1_service
        assert on_host("drill1", "cat /run/webstack-patchdemo.version") == "1.1"
        rows = {row["host"]: row for row in report_of(out)["hosts"]}
        assert rows["app1"]["status"] == "skipped"
        assert rows["app2"]["status"] == "up to date" and rows["drill1"]["status"] == "patched"
        assert upstream() == "app1 active\napp2 active"
    finally:
        on_host("lb1", "webstack-upstream active app2 >/dev/null")
    assert upstream() == "app1 active\napp2 active"


@pytest.mark.parametrize(
    ("limit", "refusal"),
    [
        ("patch_max_backup_age=1", "the backups are not fresh enough to patch on"),
        # Lag cannot be made on demand; no standby is more than -1 bytes behind, so every one counts as lagging.
        ("patch_max_lag_bytes=-1", "has standbys behind by more than patch_max_lag_bytes=-1"),
    ],
)
def test_the_pre_checks_refuse_a_stale_backup_and_a_lagging_standby(limit, refusal):
    rc, out = playbook("playbooks/patch.yml", "--limit", "db1,db2", "-e", limit)
    assert rc != 0
    assert "No host was patched" in out and refusal in out
    for host in ("db1", "db2"):
        assert on_host(host, "test -e /usr/sbin/policy-rc.d && echo held || echo free") == "free"
    recap = [line for line in out.split("PLAY RECAP")[-1].splitlines() if "ok=" in line]
    assert recap and all("changed=0" in line for line in recap)
