"""Check mode (`--check`, AWX's check job) runs clean on the converged lab: site.yml reports no change.

(deploy.yml and switchover.yml in check mode are test_deploy.py's and test_switchover_preflight.py's: they need only
their own tiers, so they run beside other tests; this one needs a lab that nothing else changes.)
"""

import re

from conftest import LAB_PARTS, failure, playbook

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): changes nothing, and needs a lab nothing
# else changes, for site.yml in check mode to report no change: every part shared, so that only modules that change
# nothing run beside it.
LAB_USES = dict.fromkeys(LAB_PARTS, "shared")

RECAP = re.compile(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


def recap(out):
    """{host: (changed, unreachable, failed)} from the PLAY RECAP."""
    return {host: tuple(int(n) for n in counts) for host, *counts in RECAP.findall(out)}


def test_site_in_check_mode_changes_nothing_on_a_converged_lab():
    rc, out = playbook("playbooks/site.yml", "--check", "--diff")
    assert rc == 0, failure(out)
    hosts = recap(out)
    assert set(hosts) >= {"lb1", "app1", "app2", "worker1", "db1", "db2", "cache1"}, out[-3000:]
    assert {host: counts for host, counts in hosts.items() if counts != (0, 0, 0)} == {}, out[-3000:]
