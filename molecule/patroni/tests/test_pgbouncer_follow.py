"""PgBouncer follows the Patroni leader (webstack-pgbouncer-follow.service on the PgBouncer host): writes through it
reach the leader, the read-only alias the replica, and in the failover drill, the leader's host killed under writes,
PgBouncer points at the new leader without an Ansible run. The drill runs with the role's timing defaults, then with a
tighter one that site.yml brings to the running cluster (and takes back after), both in asynchronous replication,
then with the defaults in synchronous replication (no acknowledged commit may be lost); each prints what it measured.
Runs after test_patroni.py."""

import json
import re
import subprocess
import time
from collections import Counter

import pytest
from conftest import (
    BOUNCER_ADMIN,
    CA,
    REJOIN_SECONDS,
    SHOP,
    address,
    etcd_raft_leader,
    playbook,
    start_writer,
    wait_for,
    writer_records,
)

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


def kill(container: str) -> None:
    """Stop a host as a power cut does: every process of the container killed at once (SIGKILL to its init), its
    network gone with it, nothing shut down or flushed."""
    subprocess.run(["podman", "kill", "--signal", "KILL", container], capture_output=True, check=True)


@pytest.fixture
def killed(cluster):
    """kill(), and every member's container started again at the end, whatever happened (a started host comes back
    as a rebooted one does: its units start, Patroni among them)."""
    yield kill
    for container in cluster.containers.values():
        running = subprocess.run(
            ["podman", "inspect", "-f", "{{.State.Running}}", container], capture_output=True, text=True, check=True
        )
        if running.stdout.strip() != "true":
            subprocess.run(["podman", "start", container], capture_output=True, check=True)


@pytest.mark.parametrize(
    ("timing", "replication"),
    [("defaults", "asynchronous"), ("tight", "asynchronous"), ("defaults", "synchronous")],
    indirect=True,
)
def test_the_failover_drill_kills_the_leaders_host_under_writes(
    cluster, bouncer, etcd, pgbench, timing, replication, killed
):
    """The failover drill: the leader's container is killed under pgbench through PgBouncer and the writer that
    records each acknowledged commit (member_writer.py, through PgBouncer too). Measured from the kill: the replica no
    longer naming the old leader (detect), leading (GET /primary), PgBouncer pointing at it, the first write through
    PgBouncer it commits; then the acknowledged commits the new leader does not hold (none may be lost in synchronous
    mode), pgbench's failed transactions and aborted clients. The old leader's container is started again and must
    rejoin as a replica by itself, the read-only alias following it."""
    config = cluster.dcs_config()
    bound = config["ttl"] + config["loop_wait"]
    old = cluster.leader()
    new = next(name for name in cluster.hosts if name != old)
    new_address = address(cluster.hosts[new])
    assert wait_for(lambda: cluster.streams_from_leader(new), 60)
    assert wait_for(lambda: bouncer.hosts().get("shop") == address(cluster.hosts[old]), 30), bouncer.hosts()
    table = "failover_probe"
    cluster.empty_table(old, table, "")
    load = pgbench("failover_bench", bound + 60)
    writer = start_writer(bouncer.container, table, bound + 120, through_pgbouncer=True)
    settings = {
        "ca": CA,
        "old": old,
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
    time.sleep(3)  # the load runs before the kill
    # A new raft leader renews every etcd lease: when the killed host also led etcd, the leader key lives a full ttl
    # after etcd's election, not after the last renewal.
    raft_leader = etcd_raft_leader(etcd, [address(host) for host in (*cluster.hosts.values(), cluster.outsider)])
    start = time.time()
    killed(cluster.containers[old])
    events = json.loads(probe.stdout.read() or "{}")
    probe.wait(timeout=60)
    time.sleep(3)  # writes go on through the new leader
    records = writer_records(bouncer.container, writer)
    bench = load.finish()
    seconds = {name: round(at - start, 1) for name, at in events.items()}
    held = set(map(int, cluster.sql(new, f"SELECT id FROM {table}", db="shop").stdout.split()))
    lost = [row_id for row_id, _when, _server in records["acks"] if row_id not in held]
    first_ack = min((when for _id, when, server in records["acks"] if server == new_address), default=None)
    last_old_ack = max((when for _id, when, server in records["acks"] if server != new_address), default=start)
    errors = Counter(f"{code} {message}" for _when, code, message in records["errors"])
    aborted = len(re.findall(r"client \d+ aborted", bench.err))
    subprocess.run(["podman", "start", cluster.containers[old]], capture_output=True, check=True)
    restarted = time.time()
    rejoined = wait_for(lambda: cluster.streams_from_leader(old), REJOIN_SECONDS)
    rejoin_seconds = time.time() - restarted
    print(
        f"\nfailover drill ({timing} timing, {replication}): {old}'s container killed (etcd's raft leader: "
        f"{'it' if raft_leader == address(cluster.hosts[old]) else raft_leader}); {new} stops naming it leader "
        f"after {seconds.get('detect')} s, leads after {seconds.get('leader')} s, PgBouncer points at it after "
        f"{seconds.get('repoint')} s, first write through PgBouncer after {seconds.get('write')} s; the recording "
        f"writer's last acknowledgement from {old} {last_old_ack - start:.1f} s after the kill, its first from {new} "
        f"{'never' if first_ack is None else f'{first_ack - start:.1f} s'} after; acknowledged commits "
        f"{len(records['acks'])}, lost {len(lost)}, unconfirmed {len(records['unconfirmed'])}, failed attempts "
        f"{len(records['errors'])} ({dict(errors.most_common(3))}); pgbench {bench.processed} transactions, "
        f"{bench.failed} failed, {aborted} clients aborted; {old} started again and streaming {rejoin_seconds:.1f} s "
        f"later (ttl {config['ttl']}, loop_wait "
        f"{config['loop_wait']}, retry_timeout {config['retry_timeout']}, watcher every 1 s)"
    )
    assert sorted(events) == ["detect", "leader", "repoint", "write"], (events, probe.stderr.read())
    assert bouncer.hosts().get("shop") == new_address
    assert bouncer.write() == new_address
    if replication == "synchronous":
        assert not lost, f"acknowledged commits lost in synchronous mode: {lost}"
    # The old leader comes back as a replica by itself, and the read-only alias follows it.
    assert rejoined, cluster.members()
    old_address = address(cluster.hosts[old])
    assert wait_for(lambda: bouncer.hosts().get("shop_ro") == old_address, 30), bouncer.hosts()
