"""PgBouncer follows the Patroni leader (webstack-pgbouncer-follow.service on the PgBouncer host): writes through it
reach the leader, the read-only alias the replica, and after the leader's host freezes PgBouncer points at the new
leader without an Ansible run. The failover runs with the role's timing defaults, then with a tighter one that
site.yml brings to the running cluster (and takes back after); each prints the seconds it measured. Runs after
test_patroni.py."""

import json
import subprocess
import time

import pytest
from conftest import BOUNCER_ADMIN, CA, SHOP, address, playbook, wait_for

UNIT = "webstack-pgbouncer-follow.service"


def test_the_watcher_runs_sandboxed_as_its_own_user_and_keeps_its_secret(bouncer):
    host = bouncer.host
    assert host.service(UNIT).is_running
    pid = host.check_output(f"systemctl show -p MainPID --value {UNIT}")
    assert host.check_output(f"ps -o user= -p {pid}") == "webstack-pgbouncer-follow"
    status = host.check_output(f"grep -E '^(NoNewPrivs|CapEff|CapBnd)' /proc/{pid}/status")
    assert "NoNewPrivs:\t1" in status and "CapEff:\t0000000000000000" in status, status
    assert "CapBnd:\t0000000000000000" in status, status
    # common's sandbox drop-in and pgbouncer_follow_sandbox_directives (PgBouncer's own unit rates at 2.0 or below).
    exposure = host.check_output(f"systemd-analyze security {UNIT} | tail -n 1")
    assert float(exposure.split(": ")[1].split()[0]) <= 2.0, exposure
    secret = host.file("/etc/webstack-pgbouncer-follow/admin-password")
    assert (secret.user, secret.group, secret.mode) == ("root", "webstack-pgbouncer-follow", 0o640)
    # Neither its command line nor its log holds the password.
    password = BOUNCER_ADMIN[1]
    assert password not in host.check_output(f"systemctl show -p ExecStart --value {UNIT}")
    assert password not in host.check_output(f"journalctl -u {UNIT} --no-pager -o cat")


def test_writes_through_pgbouncer_reach_the_leader_and_reads_the_replica(cluster, bouncer):
    leader = cluster.leader()
    replica = next(name for name in cluster.hosts if name != leader)
    leader_address, replica_address = address(cluster.hosts[leader]), address(cluster.hosts[replica])
    assert wait_for(lambda: bouncer.hosts().get("shop") == leader_address, 30), bouncer.hosts()
    assert wait_for(lambda: bouncer.hosts().get("shop_ro") == replica_address, 30), bouncer.hosts()
    assert bouncer.write() == leader_address


# Tighter than the defaults (ttl 20, loop_wait 5, retry_timeout 5): ttl and retry_timeout at Patroni's minimums (it
# raises smaller ones), loop_wait 2: a failover 18-22 s after the last renewal, for a leader that an etcd or disk
# outage of 3 s demotes.
TIGHT = {"ttl": 20, "loop_wait": 2, "retry_timeout": 3}


def set_timing(cluster, timing: dict) -> None:
    """Patroni's ttl, loop_wait and retry_timeout through site.yml's postgresql role ({}: the inventory's)."""
    extra = [arg for key, value in timing.items() for arg in ("-e", f"postgresql_patroni_{key}={value}")]
    rc, output = playbook("site.yml", "--limit", "postgres", "--tags", "postgresql", *extra)
    assert rc == 0, output[-6000:]


@pytest.fixture(params=["defaults", "tight"])
def timing(request, cluster):
    """The timing of one run of the failover: the role's defaults, or TIGHT brought in for it and taken back after."""
    if request.param == "tight":
        before = cluster.dcs_config()["loop_wait"]
        set_timing(cluster, TIGHT)
        assert {key: cluster.dcs_config().get(key) for key in TIGHT} == TIGHT, cluster.dcs_config()
        time.sleep(2 * before)  # each member takes the new timing at the start of its next loop; nothing shows it
    yield request.param
    if request.param == "tight":
        # The old leader rejoined (the test waits for it): site.yml wants every member streaming.
        set_timing(cluster, {})


def test_pgbouncer_follows_the_leader_through_a_failover(cluster, bouncer, timing):
    """The leader's container is frozen, as in test_patroni's failover. Measured from the freeze: the new leader
    answering GET /primary, PgBouncer pointing at it, and the first write through PgBouncer it commits."""
    config = cluster.dcs_config()
    bound = config["ttl"] + config["loop_wait"]
    old = cluster.leader()
    new = next(name for name in cluster.hosts if name != old)
    new_address = address(cluster.hosts[new])
    assert wait_for(lambda: cluster.streams_from_leader(new), 60)
    assert wait_for(lambda: bouncer.hosts().get("shop") == address(cluster.hosts[old]), 30), bouncer.hosts()
    settings = {
        "ca": CA,
        "new_api": f"https://{new_address}:8008",
        "new_address": new_address,
        "timeout": bound + 60,
        "admin": BOUNCER_ADMIN,
        "shop": SHOP,
    }
    probe = subprocess.Popen(
        bouncer.command("follow"), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    probe.stdin.write(json.dumps(settings))
    probe.stdin.close()
    start = time.time()
    subprocess.run(["podman", "pause", cluster.containers[old]], check=True)
    try:
        out = probe.stdout.read()
        probe.wait(timeout=bound + 90)
    finally:
        subprocess.run(["podman", "unpause", cluster.containers[old]], check=True)
    events = json.loads(out or "{}")
    seconds = {name: round(at - start, 1) for name, at in events.items()}
    print(
        f"\npgbouncer follow ({timing}): {old} froze; {new} leads after {seconds.get('leader')} s, PgBouncer points "
        f"at it after {seconds.get('repoint')} s, first write through PgBouncer after {seconds.get('write')} s (ttl "
        f"{config['ttl']}, loop_wait {config['loop_wait']}, retry_timeout {config['retry_timeout']}, watcher every 1 s)"
    )
    assert sorted(events) == ["leader", "repoint", "write"], (events, probe.stderr.read())
    assert bouncer.hosts().get("shop") == new_address
    assert bouncer.write() == new_address
    # The old leader comes back as a replica, and the read-only alias follows it.
    assert wait_for(lambda: cluster.streams_from_leader(old), 120), cluster.members()
    old_address = address(cluster.hosts[old])
    assert wait_for(lambda: bouncer.hosts().get("shop_ro") == old_address, 30), bouncer.hosts()
