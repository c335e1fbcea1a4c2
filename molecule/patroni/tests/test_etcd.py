"""etcd: three healthy voting members, on their private addresses only, TLS only, clients by certificate."""

import json

import pytest
from conftest import etcdctl


def test_three_members_all_healthy(etcd):
    members = json.loads(etcdctl(etcd, "member list -w json"))["members"]
    assert len(members) == 3
    assert all(url.startswith("https://") for m in members for url in m["peerURLs"] + m["clientURLs"])
    health = json.loads(etcdctl(etcd, "endpoint health --cluster -w json"))
    assert len(health) == 3
    assert all(endpoint["health"] for endpoint in health), health


@pytest.mark.parametrize("index", [0, 1, 2])
def test_listens_on_the_private_address_only(etcd_hosts, index):
    host = etcd_hosts[index]
    private = host.interface("eth0").addresses[0]
    listening = host.check_output("ss -Hltn '( sport = :2379 or sport = :2380 )' | awk '{print $4}'").split()
    assert sorted(listening) == sorted([f"{private}:2379", f"{private}:2380"])


def test_clients_need_a_certificate_with_client_auth(etcd):
    health = f"https://{etcd.address}:2379/health"
    member_cert = f"--cacert {etcd.ca} --cert /etc/etcd/tls/member.crt --key /etc/etcd/tls/member.key"
    with_member_cert = etcd.host.run(f"curl -s --max-time 3 {member_cert} {health}")
    assert '"health":"true"' in with_member_cert.stdout
    # No certificate: the TLS handshake is refused.
    assert etcd.host.run(f"curl -s --max-time 3 --cacert {etcd.ca} {health}").rc != 0
    # Plain HTTP gets no answer from the cluster.
    plain = etcd.host.run(f"curl -s --max-time 3 http://{etcd.address}:2379/health")
    assert '"health":"true"' not in plain.stdout
