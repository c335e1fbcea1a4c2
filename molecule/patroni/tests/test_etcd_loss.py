"""The etcd-loss drill: one of the three etcd members stops (first the etcd-only host's, then the one on the
replica's host, never the database leader's host), each made etcd's raft leader first so that its loss takes an
election too, under pgbench through PgBouncer. Each stays down longer than
Patroni's ttl + loop_wait, so the leader renews its key several times against the two members left: the leader
never changes and keeps its timeline, no transaction fails, and each etcd member comes back healthy. The failed
transactions, the longest pause between two commits while a member was down, and the time etcd took to be healthy
again are printed."""

from __future__ import annotations

import time

from conftest import ETCD_ONLY, address, etcd_health, etcd_raft_leader, etcd_status, etcdctl, wait_for


def test_losing_one_etcd_member_keeps_the_leader_and_every_write(cluster, etcd, etcd_hosts, pgbench):
    config = cluster.dcs_config()
    down_for = config["ttl"] + config["loop_wait"] + 5  # past the key's life: it must have been renewed meanwhile
    addresses = [address(host) for host in etcd_hosts]
    assert wait_for(lambda: all(etcd_health(etcd, addresses).values()), 60), etcd_health(etcd, addresses)
    leader = cluster.leader()
    assert leader, cluster.members()
    replica = next(name for name in cluster.hosts if name != leader)
    timeline = {m["Member"]: m["TL"] for m in cluster.members()}[leader]
    victims = {ETCD_ONLY: etcd.host, cluster.containers[replica]: cluster.hosts[replica]}
    load = pgbench("etcd_loss_probe", len(victims) * (down_for + 30) + 10)
    time.sleep(3)  # pgbench writes through PgBouncer before anything stops
    measured = []
    for name, host in victims.items():
        # The member to lose leads etcd's raft: its loss takes an election too, not only a member fewer.
        raft_leader = make_raft_leader(etcd, addresses, address(host))
        seen = set()
        host.check_output("systemctl stop etcd.service")
        stopped = time.time()
        try:
            while time.time() - stopped < down_for:
                seen.add(cluster.leader())
                time.sleep(2)
        finally:
            host.check_output("systemctl start etcd.service")
        restarted = time.time()
        back = wait_for(lambda: all(etcd_health(etcd, addresses).values()), 60)
        measured.append(
            {
                "member": name,
                "was raft leader": raft_leader,
                "patroni leaders seen": sorted(str(s) for s in seen),
                "healthy after s": round(time.time() - restarted, 1),
                "window": (stopped, restarted),
            }
        )
        assert back, etcd_health(etcd, addresses)
    bench = load.finish()
    pauses = [round(load.longest_pause(*m.pop("window")), 2) for m in measured]
    print(f"\netcd loss: pgbench {bench.processed} transactions, {bench.failed} failed")
    for entry, pause in zip(measured, pauses):
        print(f"etcd loss: {entry}, longest pause between commits while down {pause} s")
    assert bench.rc == 0 and "aborted" not in bench.out + bench.err, bench.out + bench.err
    assert bench.failed == 0 and bench.processed > 0, bench.out
    # None: patronictl found no leader for a moment (its own etcd endpoint gone); never another member.
    assert all(set(m["patroni leaders seen"]) <= {leader, "None"} for m in measured), measured
    assert cluster.leader() == leader, cluster.members()
    assert {m["Member"]: m["TL"] for m in cluster.members()}[leader] == timeline
    assert cluster.streams_from_leader(replica)
    assert all(etcd_health(etcd, addresses).values())


def make_raft_leader(etcd, addresses, target: str) -> bool:
    """Move etcd's raft leadership to the member at target (etcdctl move-leader, sent to the leader now)."""
    status = etcd_status(etcd, addresses)
    leader = etcd_raft_leader(etcd, addresses)
    if leader is None or target not in status:
        return False
    if leader != target:
        etcdctl(etcd, "move-leader", status[target]["id"], endpoints=[leader])
    return wait_for(lambda: etcd_status(etcd, addresses).get(target, {}).get("leader") == status[target]["id"], 15)
