"""The common role leaves a host with its base system in place, hardened."""

import os
import subprocess
from pathlib import Path


def test_base_packages_installed(host):
    for name in ("acl", "curl", "locales", "jq"):
        assert host.package(name).is_installed, name


def test_unattended_upgrades_off(host):
    assert not host.package("unattended-upgrades").is_installed
    periodic = host.file("/etc/apt/apt.conf.d/20auto-upgrades").content_string
    assert 'APT::Periodic::Unattended-Upgrade "0";' in periodic
    assert host.run("systemctl is-enabled apt-daily-upgrade.timer").stdout.strip() != "enabled"


def test_timezone_and_locale(host):
    assert host.file("/etc/localtime").linked_to.endswith("Europe/Berlin")
    assert "LANG=en_US.UTF-8" in host.file("/etc/default/locale").content_string
    assert "en_US.utf8" in host.run("locale -a").stdout


def test_kernel_settings_written(host):
    conf = host.file("/etc/sysctl.d/60-opsforge-webstack.conf")
    assert conf.mode == 0o644
    assert "net.core.somaxconn = 4096" in conf.content_string


def test_host_finds_itself_by_inventory_name(host):
    assert host.run("getent hosts molecule-common").rc == 0
    assert "BEGIN opsforge.webstack inventory hosts" in host.file("/etc/hosts").content_string


def test_operator_accounts(host):
    alice = host.user("alice")
    assert alice.exists and alice.shell == "/bin/bash"
    assert "ssh-ed25519" in host.file("/home/alice/.ssh/authorized_keys").content_string
    sudoers = host.file("/etc/sudoers.d/50-alice")
    assert sudoers.mode == 0o440
    assert host.user("bob").exists
    assert not host.file("/etc/sudoers.d/50-bob").exists
    assert not host.user("mallory").exists
    assert host.run("visudo -c").rc == 0


# --- SSH and host hardening (issue 11, item 9)

REPO = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
SSH_CONFIG = REPO / "lab" / "ssh_config"

KEX = [
    "sntrup761x25519-sha512@openssh.com",
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "diffie-hellman-group18-sha512",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group-exchange-sha256",
]
# Only OpenSSH 9.9 and newer know the ML-KEM hybrid: Debian 13's 10.0, not Debian 12's 9.2.
KEX_FIRST = {"bookworm": [], "trixie": ["mlkem768x25519-sha256"]}
CIPHERS = [
    "chacha20-poly1305@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-gcm@openssh.com",
    "aes256-ctr",
    "aes192-ctr",
    "aes128-ctr",
]
MACS = ["hmac-sha2-512-etm@openssh.com", "hmac-sha2-256-etm@openssh.com", "umac-128-etm@openssh.com"]
HOST_KEY_ALGORITHMS = [
    "ssh-ed25519-cert-v01@openssh.com",
    "ssh-ed25519",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp256",
    "rsa-sha2-512-cert-v01@openssh.com",
    "rsa-sha2-256-cert-v01@openssh.com",
    "rsa-sha2-512",
    "rsa-sha2-256",
]


def sshd_settings(host):
    """What sshd would run with (sshd -T): each keyword, lower case, with its value."""
    out = host.check_output("mkdir -p -m 0755 /run/sshd && sshd -T")
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def instance(host):
    return host.ansible.get_variables()["inventory_hostname"]


def ssh(user_at_host):
    return subprocess.run(
        ["ssh", "-F", str(SSH_CONFIG), "-o", "BatchMode=yes", user_at_host, "true"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_sshd_runs_hardened(host):
    sshd = sshd_settings(host)
    release = host.system_info.codename
    assert {
        key: sshd[key]
        for key in (
            "permitrootlogin",
            "passwordauthentication",
            "kbdinteractiveauthentication",
            "permitemptypasswords",
            "pubkeyauthentication",
            "allowgroups",
            "x11forwarding",
            "allowtcpforwarding",
            "allowagentforwarding",
            "loglevel",
            "maxauthtries",
            "logingracetime",
            "clientaliveinterval",
            "clientalivecountmax",
        )
    } == {
        "permitrootlogin": "no",
        "passwordauthentication": "no",
        "kbdinteractiveauthentication": "no",
        "permitemptypasswords": "no",
        "pubkeyauthentication": "yes",
        "allowgroups": "webstack-ssh",
        "x11forwarding": "no",
        "allowtcpforwarding": "no",
        "allowagentforwarding": "no",
        "loglevel": "VERBOSE",
        "maxauthtries": "3",
        "logingracetime": "30",
        "clientaliveinterval": "300",
        "clientalivecountmax": "2",
    }
    assert sshd["kexalgorithms"].split(",") == KEX_FIRST[release] + KEX
    assert sshd["ciphers"].split(",") == CIPHERS
    assert sshd["macs"].split(",") == MACS
    assert sshd["hostkeyalgorithms"].split(",") == HOST_KEY_ALGORITHMS


def test_root_is_refused_and_the_admin_gets_in(host):
    # root has the lab's key (converge.yml): sshd's configuration refuses it.
    assert host.file("/root/.ssh/authorized_keys").exists
    refused = ssh(f"root@{instance(host)}")
    assert refused.returncode == 255, refused
    assert "Permission denied" in refused.stderr
    admitted = ssh(instance(host))  # lab/ssh_config's User: admin
    assert admitted.returncode == 0, admitted.stderr


def test_operators_join_the_ssh_group(host):
    assert "webstack-ssh" in host.user("alice").groups
    assert "webstack-ssh" in host.user("bob").groups


def test_weak_moduli_are_gone(host):
    sizes = {line.split()[4] for line in host.file("/etc/ssh/moduli").content_string.splitlines() if line[:1].isdigit()}
    assert sizes and min(int(size) for size in sizes) >= 3071


def test_kernel_hardening_written_beside_the_tuning(host):
    conf = host.file("/etc/sysctl.d/60-opsforge-webstack.conf").content_string.splitlines()
    for line in (
        "net.ipv4.conf.all.accept_redirects = 0",
        "net.ipv6.conf.all.accept_redirects = 0",
        "net.ipv4.conf.all.send_redirects = 0",
        "net.ipv4.conf.all.accept_source_route = 0",
        "net.ipv4.conf.all.log_martians = 1",
        "net.ipv4.tcp_syncookies = 1",
        "net.ipv4.icmp_echo_ignore_broadcasts = 1",
        "kernel.kptr_restrict = 2",
        "kernel.dmesg_restrict = 1",
        "fs.protected_symlinks = 1",
        "fs.protected_regular = 2",
        "fs.suid_dumpable = 0",
        "net.core.somaxconn = 4096",
        # converge.yml's common_sysctl changes this one hardening key, and only this one
        "net.ipv4.conf.all.rp_filter = 2",
        "net.ipv4.conf.default.rp_filter = 1",
    ):
        assert line in conf, line


def test_unused_filesystems_and_protocols_blacklisted(host):
    conf = host.file("/etc/modprobe.d/60-opsforge-webstack-blacklist.conf").content_string.splitlines()
    for module in ("cramfs", "freevxfs", "hfs", "hfsplus", "jffs2", "udf", "dccp", "sctp", "rds", "tipc"):
        assert f"install {module} /bin/false" in conf and f"blacklist {module}" in conf, module


def test_no_core_dumps_and_a_strict_login_umask(host):
    assert "* hard core 0" in " ".join(
        host.file("/etc/security/limits.d/60-opsforge-webstack-core.conf").content_string.split()
    )
    assert host.run("bash -lc umask").stdout.strip() == "0027"
    assert host.run("su -s /bin/bash -l bob -c umask").stdout.strip() == "0027"


def test_a_converge_that_would_lock_ansible_out_stops_before_any_change(host):
    dropin = "/etc/ssh/sshd_config.d/00-opsforge-webstack.conf"
    before = host.file(dropin).sha256sum
    env = dict(os.environ)
    config = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / "ansible.cfg"
    if config.exists():
        env["ANSIBLE_CONFIG"] = str(config)
    run = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            os.environ["MOLECULE_INVENTORY_FILE"],
            str(Path(__file__).resolve().parents[1] / "converge.yml"),
            "-e",
            '{"common_ssh_allow_groups": ["ops-elsewhere"]}',
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-3000:]
    assert "who is in none of common_ssh_allow_groups (ops-elsewhere)" in output
    assert "Nothing was changed on" in output
    assert "changed=0" in output
    assert host.file(dropin).sha256sum == before
    assert not host.group("ops-elsewhere").exists
