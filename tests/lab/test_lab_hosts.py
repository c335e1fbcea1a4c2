"""The lab's own plumbing: `lab.sh up` mends a lab that a killed session left behind.

A container whose processes are killed (the end of a session, say) goes without its CNI teardown: its network
namespace stays on the lab's bridge with the host's address and MAC. These tests make such a namespace by hand
and check that `lab.sh up` removes it, so that the host it shadowed answers again.
"""

import subprocess
import sys

import pytest
from conftest import LAB_PARTS, REPO, on_host

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): kills the object store's processes and brings
# the lab up again.
LAB_USES = dict.fromkeys(LAB_PARTS, "exclusive")

DEAD = "opsforge-test-dead-s3"
DEAD_VETH = "opsfdead0"
S3 = ("10.77.0.61", 9000)
SEND_ONE_DATAGRAM = "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('10.77.0.1', 9))"


def run(*command):
    return subprocess.run(command, capture_output=True, text=True, check=False)


def connects_from_db1(address, port):
    """'open' or bash's error: a connection from db1, the way pgBackRest reaches the store."""
    return on_host("db1", f"timeout 5 bash -c 'echo > /dev/tcp/{address}/{port} && echo open' 2>&1 || true").strip()


@pytest.fixture
def dead_namespace_of_s3():
    """A namespace like the one a killed lab-s3 leaves: s3's address and MAC, its veth on the lab's bridge."""
    mac_of_each_network = "{{range .NetworkSettings.Networks}}{{.MacAddress}}{{end}}"
    mac = run("podman", "inspect", "lab-s3", "--format", mac_of_each_network).stdout.strip()
    bridge = run("podman", "network", "inspect", "webstack-lab", "--format", "{{.NetworkInterface}}").stdout.strip()
    steps = [
        ("ip", "netns", "add", DEAD),
        ("ip", "link", "add", DEAD_VETH, "type", "veth", "peer", "name", "eth0", "netns", DEAD),
        ("ip", "link", "set", DEAD_VETH, "master", bridge, "up"),
        ("ip", "-n", DEAD, "link", "set", "eth0", "address", mac, "up"),
        ("ip", "-n", DEAD, "addr", "add", f"{S3[0]}/24", "dev", "eth0"),
        # A datagram to the gateway (its ARP request first): the bridge learns the MAC on the dead namespace's port.
        ("ip", "netns", "exec", DEAD, sys.executable, "-c", SEND_ONE_DATAGRAM),
    ]
    try:
        for step in steps:
            result = run(*step)
            assert result.returncode == 0, f"{' '.join(step)}: {result.stderr}"
        yield
    finally:
        run("ip", "netns", "delete", DEAD)
        run("ip", "link", "delete", DEAD_VETH)


def shadowed_by_the_dead_namespace():
    """Whether db1 reaches the dead namespace instead of s3. Any frame s3 sends (an answer to a scrape, say) makes the
    bridge learn its MAC on s3's own port again, so the dead namespace announces itself again before each try."""
    run("ip", "netns", "exec", DEAD, sys.executable, "-c", SEND_ONE_DATAGRAM)
    return "refused" in connects_from_db1(*S3)


def test_lab_up_removes_a_dead_containers_namespace_and_the_host_answers_again(dead_namespace_of_s3):
    shadowed = any(shadowed_by_the_dead_namespace() for attempt in range(5))
    assert shadowed, "the dead namespace should shadow s3 before lab up"
    result = run(str(REPO / "lab" / "lab.sh"), "up")
    assert result.returncode == 0, result.stderr
    assert f"removing the network namespace {DEAD}" in result.stderr
    assert DEAD not in run("ip", "netns", "list").stdout
    assert connects_from_db1(*S3) == "open"
