"""One table names what each supported Debian release brings."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.debian_release import debian_release


def test_bookworm_keeps_its_versions():
    assert debian_release("bookworm", "postgresql_version") == 15
    assert debian_release("bookworm", "python_version") == "3.11"


def test_trixie_brings_newer_ones():
    facts = debian_release("trixie")
    assert (facts["debian_version"], facts["postgresql_version"], facts["python_version"]) == (13, 17, "3.13")


def test_the_redis_exporters_the_exporters_role_chooses_its_flags_by():
    # apt-cache policy prometheus-redis-exporter in the lab's images: 1.45.0 (Debian 12), 1.69.0 (Debian 13).
    assert [debian_release(release, "redis_exporter_version") for release in ("bookworm", "trixie")] == ["1.45", "1.69"]


def test_the_system_locale_file_survives_a_reboot_on_each_release():
    # Debian 13's tmpfiles.d rule makes /etc/default/locale a link to ../locale.conf at every boot (seen in the lab
    # after a container restart, 2026-12-05): a file written there instead is gone.
    assert [debian_release(release, "locale_file") for release in ("bookworm", "trixie")] == [
        "/etc/default/locale",
        "/etc/locale.conf",
    ]


def test_other_releases_and_keys_are_refused_with_the_supported_ones():
    with pytest.raises(AnsibleFilterError, match=r"Debian 12 \(bookworm\), Debian 13 \(trixie\)"):
        debian_release("bullseye")
    with pytest.raises(AnsibleFilterError, match="no 'perl_version'"):
        debian_release("trixie", "perl_version")


def test_a_release_not_known_yet_gives_null():
    assert debian_release(None, "postgresql_version") is None


def test_patroni_before_its_etcd3_leader_key_fix_is_known_by_release():
    """bookworm's Patroni (3.0.2) predates patroni/patroni#2689: the postgresql role gives it the etcd v2 client."""
    assert debian_release("bookworm", "patroni_version") == "3.0.2"
    assert debian_release("trixie", "patroni_version") == "4.0.7"
