"""The lab's hosts run hardened, as the lab inventory asks (issue 11, item 9): sshd refuses root and anyone
outside webstack-ssh, with modern algorithms only, while Ansible's own login (admin, with sudo) works.

Two hosts of different tiers (a load balancer and a database server), after site.yml. molecule/common checks
the same on a fresh instance. Root has no key in the lab's image: the test gives it the lab's key for the time of
the attempt, so that the refusal it sees is sshd's configuration and not a missing key.
"""

import shlex
import subprocess
from pathlib import Path

import pytest
from conftest import LAB_PARTS, REPO, on_host
from scenario_checks import scenario_module

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): reads sshd and kernel settings of every tier.
LAB_USES = dict.fromkeys(LAB_PARTS, "shared")

HOSTS = ("lb1", "db1")
SSH_CONFIG = REPO / "lab" / "ssh_config"
# lab/lab.sh's key (lab/ssh_config's IdentityFile)
LAB_KEY = "/var/lib/opsforge-webstack/lab-ssh/id_ed25519.pub"

# The algorithm lists molecule/common checks, for each release.
COMMON = scenario_module(REPO / "molecule" / "common" / "tests" / "test_common.py")
KEX, KEX_FIRST, CIPHERS, MACS = COMMON.KEX, COMMON.KEX_FIRST, COMMON.CIPHERS, COMMON.MACS


def sshd_settings(host):
    out = on_host(host, "mkdir -p -m 0755 /run/sshd && sshd -T")
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def ssh(destination, command="true"):
    return subprocess.run(
        ["ssh", "-F", str(SSH_CONFIG), "-o", "BatchMode=yes", destination, command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("host", HOSTS)
def test_sshd_runs_hardened(host):
    sshd = sshd_settings(host)
    release = on_host(host, ". /etc/os-release && echo $VERSION_CODENAME")
    assert (sshd["permitrootlogin"], sshd["passwordauthentication"], sshd["kbdinteractiveauthentication"]) == (
        "no",
        "no",
        "no",
    )
    assert sshd["allowgroups"] == "webstack-ssh"
    assert (sshd["x11forwarding"], sshd["allowtcpforwarding"], sshd["allowagentforwarding"]) == ("no", "no", "no")
    assert sshd["kexalgorithms"].split(",") == KEX_FIRST[release] + KEX
    assert sshd["ciphers"].split(",") == CIPHERS
    assert sshd["macs"].split(",") == MACS


@pytest.fixture
def root_with_the_lab_key(request):
    """The host's root holds the lab's key (as on a cloud image that keeps one) until the test ends."""
    host = request.param
    key = Path(LAB_KEY).read_text().strip()
    on_host(
        host,
        "mkdir -p -m 0700 /root/.ssh && cp -a /root/.ssh/authorized_keys /root/.ssh/authorized_keys.test-saved "
        "2>/dev/null; true",
    )
    on_host(host, f"echo {shlex.quote(key)} >> /root/.ssh/authorized_keys && chmod 0600 /root/.ssh/authorized_keys")
    yield host
    on_host(
        host,
        "if [ -e /root/.ssh/authorized_keys.test-saved ]; then mv /root/.ssh/authorized_keys.test-saved "
        "/root/.ssh/authorized_keys; else rm -f /root/.ssh/authorized_keys; fi",
    )


@pytest.mark.parametrize("root_with_the_lab_key", HOSTS, indirect=True)
def test_root_is_refused_and_admin_gets_in_with_sudo(root_with_the_lab_key):
    host = root_with_the_lab_key
    refused = ssh(f"root@lab-{host}")
    assert refused.returncode == 255
    assert "Permission denied" in refused.stderr
    admitted = ssh(f"lab-{host}", "sudo -n id -u")
    assert admitted.returncode == 0, admitted.stderr
    assert admitted.stdout.strip() == "0"
    assert on_host(host, "id -nG admin").split().count("webstack-ssh") == 1


@pytest.mark.parametrize("host", HOSTS)
def test_kernel_hardening_and_blacklist_written(host):
    sysctl = on_host(host, "cat /etc/sysctl.d/60-opsforge-webstack.conf").splitlines()
    for line in ("net.ipv4.conf.all.accept_redirects = 0", "kernel.kptr_restrict = 2", "fs.suid_dumpable = 0"):
        assert line in sysctl, line
    blacklist = on_host(host, "cat /etc/modprobe.d/60-opsforge-webstack-blacklist.conf").splitlines()
    assert "install sctp /bin/false" in blacklist and "install cramfs /bin/false" in blacklist
