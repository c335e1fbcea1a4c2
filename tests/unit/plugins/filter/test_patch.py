"""patch.yml's pure logic: which upgrades to apply, what needrestart says, what changed, and the report."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.patch import (
    patch_changes,
    patch_needrestart,
    patch_patroni_restarts,
    patch_report,
    patch_report_table,
    patch_selection,
)

UPGRADABLE = """Listing...
libssl3/stable-security 3.0.15-1~deb12u1 amd64 [upgradable from: 3.0.14-1~deb12u2]
openssl/stable-security,stable 3.0.15-1~deb12u1 amd64 [upgradable from: 3.0.14-1~deb12u2]
postgresql-15/stable-updates 15.10-0+deb12u1 amd64 [upgradable from: 15.8-0+deb12u1]
webstack-patchdemo/webstack-patch-test 1.1 all [upgradable from: 1.0]
"""


def names(packages):
    return [p["name"] for p in packages]


def test_security_scope_takes_only_candidates_from_a_security_suite():
    selection = patch_selection(UPGRADABLE, scope="security")
    assert names(selection["upgrade"]) == ["libssl3", "openssl"]
    assert names(selection["skipped"]) == ["postgresql-15", "webstack-patchdemo"]
    assert selection["upgrade"][0] == {
        "name": "libssl3",
        "old": "3.0.14-1~deb12u2",
        "new": "3.0.15-1~deb12u1",
        "suites": ["stable-security"],
        "security": True,
    }


def test_all_scope_holds_and_only_lists():
    selection = patch_selection(UPGRADABLE.splitlines(), scope="all", hold=["postgresql-15"])
    assert names(selection["upgrade"]) == ["libssl3", "openssl", "webstack-patchdemo"]
    assert names(selection["held"]) == ["postgresql-15"]
    only = patch_selection(UPGRADABLE, scope="all", only=["webstack-patchdemo"])
    assert names(only["upgrade"]) == ["webstack-patchdemo"]
    assert patch_selection("Listing...\n", scope="all")["upgrade"] == []


def test_an_unknown_scope_is_refused():
    with pytest.raises(AnsibleFilterError, match="security, all"):
        patch_selection(UPGRADABLE, scope="everything")


def test_needrestart_batch_output():
    output = """NEEDRESTART-VER: 3.6
NEEDRESTART-KCUR: 6.1.0-26-amd64
NEEDRESTART-KEXP: 6.1.0-28-amd64
NEEDRESTART-KSTA: 3
NEEDRESTART-SVC: redis-server.service
NEEDRESTART-SVC: nginx.service
NEEDRESTART-SVC: nginx.service
"""
    assert patch_needrestart(output) == {
        "services": ["nginx.service", "redis-server.service"],
        "kernel_status": 3,
        "kernel_reboot": True,
        "containers": [],
    }
    # In a container needrestart knows no kernel (0): no reboot from it.
    assert patch_needrestart("NEEDRESTART-VER: 3.6\nNEEDRESTART-KSTA: 0\n")["kernel_reboot"] is False
    assert patch_needrestart("")["services"] == []
    # A service it found by its init script comes without a suffix (sshd on Debian 12); PID 1 is systemd-manager.
    lab = "NEEDRESTART-SVC: ssh\nNEEDRESTART-SVC: systemd-logind.service\nNEEDRESTART-SVC: systemd-manager\n"
    assert patch_needrestart(lab)["services"] == ["ssh.service", "systemd-logind.service", "systemd-manager"]


def test_changes_between_two_dpkg_listings():
    before = "libssl3 3.0.14-1~deb12u2\nopenssl 3.0.14-1~deb12u2\nold-lib 1.0\nconfig-only \n"
    after = "libssl3 3.0.15-1~deb12u1\nopenssl 3.0.14-1~deb12u2\nnew-dep 2.0\nconfig-only \n"
    assert patch_changes(after, before) == [
        {"name": "libssl3", "old": "3.0.14-1~deb12u2", "new": "3.0.15-1~deb12u1"},
        {"name": "new-dep", "old": None, "new": "2.0"},
        {"name": "old-lib", "old": "1.0", "new": None},
    ]


PATCHED = {
    "status": "patched",
    "seconds": 41.27,
    "packages": [{"name": "openssl", "old": "3.0.14", "new": "3.0.15"}],
    "restarted": ["nginx.service"],
    "rebooted": False,
    "reboot_pending": False,
}


def test_report_of_a_complete_run():
    results = {"db2": {**PATCHED, "rebooted": True, "restarted": []}, "app1": PATCHED, "lb1": {"status": "up to date"}}
    report = patch_report(results, ["db2", "db1", "app1", "lb1"], done=["db1"], started="t0", finished="t1")
    assert [(r["host"], r["status"]) for r in report["hosts"]] == [
        ("db2", "patched"),
        ("db1", "skipped"),
        ("app1", "patched"),
        ("lb1", "up to date"),
    ]
    assert report["rebooted"] == ["db2"]
    assert report["stopped_at"] is None and "resume" not in report
    table = patch_report_table(report)
    assert table[0].split()[:4] == ["host", "status", "seconds", "rebooted"]
    assert "openssl 3.0.14 -> 3.0.15" in table[3] and "41.3" in table[3] and "nginx.service" in table[3]
    assert "already patched" in table[2]


def test_report_of_a_stopped_run_says_where_and_how_to_resume():
    results = {"db2": PATCHED, "db1": PATCHED, "app1": {**PATCHED, "status": "failed", "reason": "shop.service failed"}}
    report = patch_report(results, ["db2", "db1", "app1", "app2"], stopped_at="app1")
    assert report["resume"] == {"patch_done_hosts": ["db2", "db1"]}
    assert report["hosts"][3] == {
        "host": "app2",
        "status": "left out",
        "reason": "not reached: the run stopped before it",
    }
    table = patch_report_table(report)
    assert "app1: shop.service failed" in table
    assert "The run stopped at app1" in table[-2]
    assert table[-1].endswith("""-e '{"patch_done_hosts": ["db2", "db1"]}'""")


def test_report_table_needs_a_report():
    with pytest.raises(AnsibleFilterError):
        patch_report_table({"nothing": 1})


RUNNING = ["cron.service", "patroni@17-main.service", "ssh.service"]


@pytest.mark.parametrize(
    ("units", "packages", "restarts"),
    [
        # needrestart names Patroni's unit for a server running a replaced binary (its processes are Patroni's).
        (["cron.service", "patroni@17-main.service"], [], ["cron.service", "patroni@17-main.service"]),
        # Debian's units never restart under Patroni: Patroni's unit does instead.
        (["postgresql@17-main.service", "postgresql.service"], [], ["patroni@17-main.service"]),
        # The server's or Patroni's package upgraded: Patroni's unit, whatever needrestart said.
        ([], ["postgresql-17"], ["patroni@17-main.service"]),
        ([], ["patroni"], ["patroni@17-main.service"]),
        # Anything else leaves Patroni running.
        (["cron.service"], ["postgresql-client-17", "tzdata"], ["cron.service"]),
    ],
)
def test_patroni_members_restart_through_patroni(units, packages, restarts):
    assert patch_patroni_restarts(units, packages, RUNNING) == restarts


def test_patroni_restarts_refuse_what_is_not_a_list():
    with pytest.raises(AnsibleFilterError, match="packages must be a list, not str"):
        patch_patroni_restarts([], "postgresql-17", RUNNING)
