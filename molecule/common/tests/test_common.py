"""The common role leaves a host with its base system in place."""


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
