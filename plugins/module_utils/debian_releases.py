# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each supported Debian release brings: the one table the roles take their versions from.

A host's own release (its fact C(distribution_release)) chooses; the roles never name a release themselves.
The versions are those of the release's own packages (seen in the lab's images, 2026-12-04).
"""

from __future__ import annotations

RELEASES = {
    "bookworm": {
        "debian_version": 12,
        "postgresql_version": 15,
        "python_version": "3.11",
        "pgbouncer_version": "1.18",
        "redis_version": "7.0",
        "nginx_version": "1.22",
        "systemd_version": 252,
        "openssh_version": "9.2",
        "redis_exporter_version": "1.45",
        # Patroni's package version: before 3.0.3 its etcd3 client could overwrite another member's leader key
        # (patroni/patroni#2689), so the postgresql role uses Patroni's etcd v2 client with it (2026-12-05).
        "patroni_version": "3.0.2",
        "etcd_version": "3.4",
        "locale_file": "/etc/default/locale",
    },
    "trixie": {
        "debian_version": 13,
        "postgresql_version": 17,
        "python_version": "3.13",
        "pgbouncer_version": "1.24",
        "redis_version": "8.0",
        "nginx_version": "1.26",
        "systemd_version": 257,
        "openssh_version": "10.0",
        "redis_exporter_version": "1.69",
        "patroni_version": "4.0.7",
        "etcd_version": "3.5",
        # The system locale lives in systemd's file; at every boot a tmpfiles.d rule of Debian's (debian.conf:
        # L+ /etc/default/locale -> ../locale.conf) puts back the old name as a link to it, over any file there.
        "locale_file": "/etc/locale.conf",
    },
}


def release_facts(release):
    """The table's entry for `release`; ValueError naming the supported releases for any other."""
    try:
        return dict(RELEASES[release])
    except (KeyError, TypeError):
        supported = ", ".join(f"Debian {facts['debian_version']} ({name})" for name, facts in RELEASES.items())
        message = f"Debian release '{release}' is not supported; the opsforge.webstack roles support {supported}"
        raise ValueError(message) from None
