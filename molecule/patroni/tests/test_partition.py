"""The partition drill: the leader's host loses the network to every other member (iptables rules in its network
namespace drop what goes to or comes from their addresses; the controller still reaches it), while a writer on each
member writes to its own server through the local socket, whatever that server claims to be. The old leader must
stop accepting writes within ttl (Patroni demotes it when it cannot renew its key), the replica must lead, and the
recorded writes must show the members' acknowledged writes one after the other, never both in the same moment.
Healed, the old leader rejoins as a replica of the new one (Patroni's pg_rewind where its WAL diverged).
The seconds to the last write the old leader took, to the first the new leader took, and to the rejoin, the
acknowledged writes the new leader does not hold, whether Patroni rewound, and what the old leader's server was at the
heal (primary, in recovery, or not answering: still shutting down) are printed.
The drill runs twice: with asynchronous replication, as the scenario is built, where the old leader's last
acknowledged writes may be lost (printed); then with postgresql_synchronous turned on by site.yml (the postgresql
role brings it to the running cluster: PATCH /config) and off again after, where no acknowledged write may be lost."""

from __future__ import annotations

import itertools
import subprocess
import time

import pytest
from conftest import ETCD_ONLY, REJOIN_SECONDS, address, start_writer, wait_for, writer_records

TABLE = "partition_probe"


def netns_pid(container: str) -> str:
    return subprocess.run(
        ["podman", "inspect", "-f", "{{.State.Pid}}", container], capture_output=True, text=True, check=True
    ).stdout.strip()


def iptables(container: str, action: str, addresses: list[str]) -> None:
    """Add (-I) or delete (-D) the rules that drop the container's traffic to and from addresses."""
    pid = netns_pid(container)
    for peer in addresses:
        for rule in (["INPUT", "-s", peer], ["OUTPUT", "-d", peer]):
            subprocess.run(["nsenter", "-t", pid, "-n", "iptables", "-w", action, *rule, "-j", "DROP"], check=True)


@pytest.fixture
def partitioned(cluster):
    """Cut the leader's host off from the other hosts; healed at the end whatever happened. Yields (leader, heal)."""
    leader = cluster.leader()
    peers = [address(host) for name, host in cluster.hosts.items() if name != leader]
    peers.append(address(cluster.outsider))
    cut = []

    def heal():
        while cut:
            iptables(cut.pop(), "-D", peers)

    def partition():
        iptables(cluster.containers[leader], "-I", peers)
        cut.append(cluster.containers[leader])

    yield leader, partition, heal
    heal()


@pytest.mark.parametrize("replication", ["asynchronous", "synchronous"], indirect=True)
def test_a_partitioned_leader_demotes_itself_and_no_two_members_take_writes_at_once(cluster, replication, partitioned):
    old, partition, heal = partitioned
    config = cluster.dcs_config()
    ttl, loop_wait = config["ttl"], config["loop_wait"]
    new = next(name for name in cluster.hosts if name != old)
    assert wait_for(lambda: cluster.streams_from_leader(new), 60), cluster.members()
    cluster.empty_table(old, TABLE, ", at timestamptz DEFAULT clock_timestamp()")
    writers = {name: start_writer(cluster.containers[name], TABLE, 300) for name in cluster.hosts}
    time.sleep(3)
    start = time.time()
    partition()
    try:
        led = wait_for(lambda: cluster.api_status(new, "/primary") == 200, ttl + loop_wait + 30, interval=0.5)
        time.sleep(5)  # both writers keep trying while the partition lasts
        old_at_heal = server_state(cluster, old)
    finally:
        heal()
    healed = time.time()
    rejoined = wait_for(lambda: cluster.streams_from_leader(old), REJOIN_SECONDS)
    rejoined_at = time.time()
    time.sleep(3)
    records = {name: writer_records(cluster.containers[name], writer) for name, writer in writers.items()}

    acks = {name: [when for _id, when, _server in records[name]["acks"]] for name in records}
    last_old = max((t for t in acks[old] if t >= start), default=start)
    first_new = min((t for t in acks[new] if t >= start), default=None)
    # The members that acknowledged writes, in the order of the acknowledgements: one run each, never interleaved.
    events = sorted((when, name) for name in acks for when in acks[name])
    runs = [name for name, _group in itertools.groupby(name for _when, name in events)]
    held = set(map(int, cluster.sql(new, f"SELECT id FROM {TABLE}", db="shop").stdout.split()))
    lost = [row_id for row_id, _when, _server in records[old]["acks"] if row_id not in held]
    rewound = (
        "rewind"
        in cluster.hosts[old]
        .run(f"journalctl -u 'patroni@*' --since=@{int(start)} --no-pager -o cat | grep 'pg_rewind exit code=0'")
        .stdout.lower()
    )
    unconfirmed = len(records[old]["unconfirmed"])
    print(
        f"\npartition ({replication}): {old} cut off from {new} and {ETCD_ONLY}; its last acknowledged write "
        f"{last_old - start:.1f} s after the cut, its server {old_at_heal} at the heal {healed - start:.1f} s after; "
        f"{new}'s first "
        f"acknowledged write {'none' if first_new is None else f'{first_new - start:.1f} s'} after the cut; "
        f"{old} streams again {rejoined_at - healed:.1f} s after the heal ({'rewound' if rewound else 'no rewind'}); "
        f"writes acknowledged: {len(acks[old])} by {old}, {len(acks[new])} by {new}; acknowledged by {old} and not on "
        f"{new}: {len(lost)}; committed by {old} but never confirmed by a standby (its wait cancelled, the writer "
        f"told): {unconfirmed}; order of the members that acknowledged: {runs} (ttl {ttl}, loop_wait {loop_wait}, "
        f"retry_timeout {config['retry_timeout']})"
    )
    assert old_at_heal != "primary", f"{old} still took writes at the heal, {healed - start:.1f} s after the cut"
    assert last_old - start <= ttl, f"{old} acknowledged a write {last_old - start:.1f} s after the cut (ttl {ttl})"
    assert led and first_new is not None, cluster.members()
    assert runs == [old, new], runs
    if replication == "synchronous":
        assert lost == [], f"{len(lost)} writes acknowledged by {old} in synchronous mode are not on {new}: {lost[:10]}"
    assert last_old < first_new
    assert rejoined, cluster.members()
    assert cluster.leader() == new
    timelines = {m["TL"] for m in cluster.members()}
    assert len(timelines) == 1, cluster.members()


def server_state(cluster, member: str) -> str:
    """'primary', 'in recovery', or 'not answering' (stopped, starting, shutting down), by the local socket."""
    result = cluster.sql(member, "SELECT pg_is_in_recovery()")
    states = {"f": "primary", "t": "in recovery"}
    return states.get(result.stdout.strip(), "not answering") if result.rc == 0 else "not answering"
