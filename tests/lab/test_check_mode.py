"""Check mode (`--check`, AWX's check job) runs clean on the converged lab and changes nothing.

site.yml reports no change on a converged lab; deploy.yml reports the switch it would make and
switches nothing; switchover.yml runs its read-only preflight, reports the plan and stops before
PgBouncer is paused or anything is promoted.
"""

import re

from conftest import LAB_PARTS, on_host, playbook, pools_paused, primary

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): needs a lab nothing else changes, for
# site.yml in check mode to report no change.
LAB_USES = dict.fromkeys(LAB_PARTS, "exclusive")

APP_HOSTS = ["app1", "app2", "worker1"]
BOUNCERS = ["app1", "app2", "worker1"]
RECAP = re.compile(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


def recap(out):
    """{host: (changed, unreachable, failed)} from the PLAY RECAP."""
    return {host: tuple(int(n) for n in counts) for host, *counts in RECAP.findall(out)}


def current_links():
    return {
        host: on_host(host, "readlink /srv/shop/current; readlink /srv/shop/previous || true") for host in APP_HOSTS
    }


def started_at():
    """When each app and worker service last started: a restart changes it."""
    units = {"app1": "shop", "app2": "shop", "worker1": "celery-default"}
    return {
        host: on_host(host, f"systemctl show --property=ActiveEnterTimestamp {unit}") for host, unit in units.items()
    }


def test_site_in_check_mode_changes_nothing_on_a_converged_lab():
    rc, out = playbook("playbooks/site.yml", "--check", "--diff")
    assert rc == 0, out[-3000:]
    hosts = recap(out)
    assert set(hosts) >= {"lb1", "app1", "app2", "worker1", "db1", "db2", "cache1"}, out[-3000:]
    assert {host: counts for host, counts in hosts.items() if counts != (0, 0, 0)} == {}, out[-3000:]


def test_deploy_in_check_mode_reports_the_switch_and_switches_nothing():
    before = current_links()
    running = before["app1"].splitlines()[0].rsplit("/", 1)[-1]
    version = "1.0.0" if running == "1.0.1" else "1.0.1"
    upstream = on_host("lb1", "webstack-upstream status")
    started = started_at()
    rc, out = playbook("playbooks/deploy.yml", "--check", "-e", f"deploy_version={version}")
    assert rc == 0, out[-3000:]
    assert re.search(
        r"TASK \[opsforge\.webstack\.python_app : Switch the current symlink\][^\n]*\n[^\n]*\nchanged: \[app1\]", out
    )
    assert current_links() == before
    assert on_host("lb1", "webstack-upstream status") == upstream
    assert started_at() == started


def test_switchover_in_check_mode_reports_the_plan_and_keeps_the_primary():
    before = primary()
    configs = {host: on_host(host, "md5sum /etc/pgbouncer/pgbouncer.ini") for host in BOUNCERS}
    rc, out = playbook("playbooks/switchover.yml", "--check", "--diff", timeout=300)
    assert rc == 0, out[-3000:]
    assert "would_promote" in out
    assert f"would_demote: {before} " in out
    assert primary() == before
    for host in BOUNCERS:
        assert not pools_paused(host)
        assert on_host(host, "md5sum /etc/pgbouncer/pgbouncer.ini") == configs[host]
        assert on_host(host, "test -e /etc/pgbouncer/pgbouncer.ini.next && echo staged || echo none") == "none"
    slots = on_host(before, "runuser -u postgres -- psql -XAtqc 'SELECT slot_name FROM pg_replication_slots'")
    assert "webstack_switchover_rewind" not in slots
