"""Patroni: one leader and a streaming replica, an authenticated REST API, the node exporter reporting its units, a
switchover, and a failover within ttl + loop_wait seconds of the leader's host freezing. The tests run in this order and
leave a healthy cluster."""

import re
import subprocess
import time

import pytest
from conftest import RESTAPI_AUTH, address, wait_for


def test_one_leader_and_a_streaming_replica(cluster):
    members = cluster.members()
    assert sorted(m["Role"] for m in members) == ["Leader", "Replica"], members
    leader = cluster.leader()
    replica = next(m["Member"] for m in members if m["Member"] != leader)
    assert cluster.sql(leader, "SELECT pg_is_in_recovery()").stdout.strip() == "f"
    assert cluster.streams_from_leader(replica)
    # The replica streams through its slot on the leader, named after it.
    slots = cluster.sql(leader, "SELECT slot_name FROM pg_replication_slots WHERE active").stdout.split()
    assert slots == [replica]


def test_the_same_hba_and_settings_as_the_manual_mode(cluster):
    leader = cluster.leader()
    methods = cluster.sql(leader, "SELECT DISTINCT auth_method FROM pg_hba_file_rules WHERE error IS NULL")
    assert set(methods.stdout.split()) <= {"peer", "scram-sha-256"}
    types = cluster.sql(leader, "SELECT DISTINCT type FROM pg_hba_file_rules WHERE type <> 'local'")
    assert set(types.stdout.split()) == {"hostssl"}
    for setting, value in [
        ("ssl", "on"),
        ("wal_log_hints", "on"),
        ("password_encryption", "scram-sha-256"),
        ("data_checksums", "on"),
        ("shared_buffers", "128MB"),
    ]:
        assert cluster.sql(leader, f"SHOW {setting}").stdout.strip() == value, setting


def test_the_rest_api_listens_on_the_private_address_with_tls(cluster):
    for member, host in cluster.hosts.items():
        listening = host.check_output("ss -Hltn '( sport = :8008 )' | awk '{print $4}'").split()
        assert listening == [f"{address(host)}:8008"], member
        plain = cluster.outsider.run(f"curl -s --max-time 3 http://{address(host)}:8008/patroni")
        assert '"state"' not in plain.stdout


def test_the_rest_api_refuses_changes_without_credentials(cluster):
    member = cluster.leader()
    assert cluster.api_status(member, "/reload", "POST") == 401
    assert cluster.api_status(member, "/reload", "POST", auth="patroni:not-the-password") == 401
    assert cluster.api_status(member, "/reload", "POST", auth=RESTAPI_AUTH) == 202


def test_the_node_exporter_reports_patroni_and_etcd(cluster):
    """site.yml's exporters play: the node exporter of each member exports the state of Patroni's and etcd's units."""
    for host in cluster.hosts.values():
        metrics = host.check_output(f"curl -s http://{address(host)}:9100/metrics")
        patroni = host.check_output("systemctl list-units 'patroni@*' --plain --no-legend | cut -d' ' -f1")
        for unit in (patroni, "etcd.service"):
            active = rf'node_systemd_unit_state\{{name="{re.escape(unit)}",state="active"[^}}]*\}} 1'
            assert re.search(active, metrics), f"{unit} is not exported as active"


def test_switchover_to_the_replica_and_the_old_leader_rejoins(cluster):
    old = cluster.leader()
    new = next(name for name in cluster.hosts if name != old)
    result = cluster.patronictl("switchover", "--leader", old, "--candidate", new, "--force")
    assert result.rc == 0, result.stdout + result.stderr
    assert wait_for(lambda: cluster.leader() == new, 60), cluster.members()
    assert wait_for(lambda: cluster.streams_from_leader(old), 90), cluster.members()


def test_failover_when_the_leaders_host_freezes(cluster):
    """The leader's container is frozen (podman pause): it neither renews its key nor answers. The replica must
    lead within ttl + loop_wait seconds and archive; the old leader rejoins as a replica when it thaws."""
    config = cluster.dcs_config()
    bound = config["ttl"] + config["loop_wait"]
    old = cluster.leader()
    new = next(name for name in cluster.hosts if name != old)
    assert wait_for(lambda: cluster.streams_from_leader(new), 60)
    start = time.monotonic()
    subprocess.run(["podman", "pause", cluster.containers[old]], check=True)
    try:
        promoted = wait_for(lambda: cluster.api_status(new, "/primary") == 200, bound + 30, interval=0.5)
        seconds = time.monotonic() - start
    finally:
        subprocess.run(["podman", "unpause", cluster.containers[old]], check=True)
    print(
        f"\nfailover: {new} leads {seconds:.1f} s after {old} froze (ttl {config['ttl']}, loop_wait "
        f"{config['loop_wait']}, retry_timeout {config['retry_timeout']})"
    )
    assert promoted, f"{new} did not lead within {bound + 30} s"
    assert seconds <= bound, f"{new} led after {seconds:.1f} s, more than ttl + loop_wait = {bound} s"
    assert wait_for(lambda: cluster.streams_from_leader(old), 120), cluster.members()
    assert cluster.leader() == new
    # The promoted member archives (the backup role's archive_command is on every member).
    assert cluster.archives(new), cluster.sql(new, "SELECT * FROM pg_stat_archiver").stdout


@pytest.fixture(scope="module", autouse=True)
def _thawed(cluster):
    """Whatever a test left behind, no member stays frozen."""
    yield
    for container in cluster.containers.values():
        subprocess.run(["podman", "unpause", container], capture_output=True, check=False)
