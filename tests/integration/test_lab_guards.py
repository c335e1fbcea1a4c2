"""The lab commands refuse what cannot work, say why, and leave nothing half-created.

These drive lab/lab.sh against the real podman of this machine; they never touch
the lab's own network or containers.
"""

import glob
import os
import shutil
import subprocess
from pathlib import Path

import pytest

LAB = Path(__file__).resolve().parents[2] / "lab" / "lab.sh"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("podman") is None, reason="needs root and podman (./dev setup installs it)"
)


def lab(*args, env=None):
    return subprocess.run(
        [str(LAB), *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False
    )


def network_exists(name):
    return subprocess.run(["podman", "network", "exists", name], check=False).returncode == 0


@pytest.fixture
def foreign_network():
    name = "opsforge-test-foreign"
    subprocess.run(["podman", "network", "rm", "-f", name], capture_output=True, check=False)
    subprocess.run(["podman", "network", "create", "--subnet", "10.250.3.0/24", name], capture_output=True, check=True)
    yield name
    subprocess.run(["podman", "network", "rm", "-f", name], capture_output=True, check=False)


def test_refuses_a_user_other_than_root():
    # The script comes on stdin, opened here as root: the checkout may live under a folder the
    # unprivileged user cannot enter (a clone in /root is mode 0700), and the refusal must still be tested.
    with open(LAB) as script:
        result = subprocess.run(
            ["runuser", "-u", "nobody", "--", "bash", "-s", "up"],
            stdin=script,
            cwd="/",
            capture_output=True,
            text=True,
            check=False,
        )
    assert result.returncode != 0
    assert "run me as root" in result.stderr


def test_refuses_a_network_name_it_did_not_create(foreign_network):
    result = lab("up", env={"WEBSTACK_LAB_NETWORK": foreign_network, "WEBSTACK_LAB_SUBNET": "10.250.3.0/24"})
    assert result.returncode != 0
    assert f"the network name '{foreign_network}' is taken" in result.stderr
    assert "WEBSTACK_LAB_NETWORK" in result.stderr


def test_refuses_an_address_range_in_use(foreign_network):
    wanted = "opsforge-test-unmade"
    result = lab("up", env={"WEBSTACK_LAB_NETWORK": wanted, "WEBSTACK_LAB_SUBNET": "10.250.3.0/25"})
    assert result.returncode != 0
    assert "the address range 10.250.3.0/25 is taken by" in result.stderr
    assert foreign_network in result.stderr
    assert not network_exists(wanted)


def test_an_image_that_cannot_be_built_leaves_nothing_behind():
    image = "localhost/opsforge-test-unbuildable"
    before = set(glob.glob("/var/tmp/webstack-rootfs.*"))
    result = lab("image", env={"WEBSTACK_LAB_IMAGE": image, "WEBSTACK_LAB_MIRROR": "http://127.0.0.1:9/debian"})
    assert result.returncode != 0
    assert "could not build the image" in result.stderr
    listed = subprocess.run(
        ["podman", "images", "-q", "--filter", f"reference={image}"], capture_output=True, text=True, check=True
    )
    assert listed.stdout.strip() == ""
    assert set(glob.glob("/var/tmp/webstack-rootfs.*")) == before


def test_a_failed_image_build_removes_the_network_it_made():
    network = "opsforge-test-rollback"
    result = lab(
        "up",
        env={
            "WEBSTACK_LAB_NETWORK": network,
            "WEBSTACK_LAB_SUBNET": "10.250.4.0/24",
            "WEBSTACK_LAB_IMAGE": "localhost/opsforge-test-unbuildable",
            "WEBSTACK_LAB_MIRROR": "http://127.0.0.1:9/debian",
        },
    )
    assert result.returncode != 0
    assert "removed what this run had created: network:" + network in result.stderr
    assert not network_exists(network)


def test_unknown_host_is_named_with_the_known_ones():
    result = lab("recreate", "nosuchhost", env={"WEBSTACK_LAB_NETWORK": "opsforge-test-none"})
    assert result.returncode != 0
    assert "no lab host named 'nosuchhost'" in result.stderr
    assert "db1" in result.stderr
