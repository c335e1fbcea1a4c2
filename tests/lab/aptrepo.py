"""A local apt repository for the patch tests: packages of our own with a newer version, so a test sees a real
upgrade, a real service restart and a real reboot request without depending on what the Debian mirror publishes.

webstack-patchdemo runs a service (webstack-patchdemo.service) that writes its version to /run and then sleeps;
its postinst restarts it through deb-systemd-invoke, as Debian's server packages do (and policy-rc.d can hold
that). Version 1.1 refuses to start where /etc/webstack-patchdemo/broken exists: an upgrade that breaks a
service. Its postinst runs /etc/webstack-patchdemo/upgrade-hook where a test put one (molecule/patroni's: the
server's binary replaced, as an upgrade of postgresql-<major> replaces it). webstack-rebootdemo 1.1 asks for a
reboot in its postinst (/run/reboot-required), as kernels do.

The controller builds the .deb files (dpkg-deb) and the index; `install` copies version 1.0 onto a host and
installs it with dpkg, then publishes the 1.1 repository there as a `file:` source; `remove` purges the
packages and removes the source, the repository and its lists. A host is the lab's container lab-HOST unless
`container` names another (molecule/patroni's instances).
"""

import hashlib
import subprocess
from datetime import datetime, timezone
from pathlib import Path

PATCHDEMO = "webstack-patchdemo"
REBOOTDEMO = "webstack-rebootdemo"
HOST_DIR = "/srv/webstack-patch-test"
SOURCE = "/etc/apt/sources.list.d/webstack-patch-test.list"
SUITE = "webstack-patch-test"
LISTS = "/var/lib/apt/lists/_srv_webstack-patch-test_repo_*"

SERVE = """#!/bin/sh
if [ -e /etc/webstack-patchdemo/broken ] && [ "{version}" != 1.0 ]; then
    echo "webstack-patchdemo {version}: refusing to start (/etc/webstack-patchdemo/broken)" >&2
    exit 1
fi
echo {version} > /run/webstack-patchdemo.version
exec sleep infinity
"""
UNIT = """[Unit]
Description=Patch test service (opsforge.webstack tests)

[Service]
ExecStart=/usr/lib/webstack-patchdemo/serve
Restart=no
TimeoutStopSec=5

[Install]
WantedBy=multi-user.target
"""
PATCHDEMO_POSTINST = """#!/bin/sh
set -e
if [ "$1" = configure ]; then
    if [ -x /etc/webstack-patchdemo/upgrade-hook ]; then /etc/webstack-patchdemo/upgrade-hook; fi
    systemctl daemon-reload >/dev/null 2>&1 || true
    deb-systemd-helper enable webstack-patchdemo.service >/dev/null || true
    deb-systemd-invoke restart webstack-patchdemo.service >/dev/null || true
fi
"""
PATCHDEMO_PRERM = """#!/bin/sh
set -e
if [ "$1" = remove ]; then
    deb-systemd-invoke stop webstack-patchdemo.service >/dev/null || true
fi
"""
PATCHDEMO_POSTRM = """#!/bin/sh
set -e
if [ "$1" = purge ]; then
    deb-systemd-helper purge webstack-patchdemo.service >/dev/null || true
fi
systemctl daemon-reload >/dev/null 2>&1 || true
"""
REBOOTDEMO_POSTINST = """#!/bin/sh
set -e
if [ "$1" = configure ] && [ "{version}" != 1.0 ]; then
    touch /run/reboot-required
    echo webstack-rebootdemo >> /run/reboot-required.pkgs
fi
"""


def _control(name, version, description):
    return (
        f"Package: {name}\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: opsforge developers <dev@opsforge.invalid>\nSection: misc\nPriority: optional\n"
        f"Description: {description}\n"
    )


def _write(path, text, mode=0o644):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def build_deb(workdir, name, version):
    root = workdir.parent / "build" / f"{name}_{version}"
    debian = root / "DEBIAN"
    if name == PATCHDEMO:
        _write(debian / "control", _control(name, version, "service the patch tests upgrade"))
        _write(debian / "postinst", PATCHDEMO_POSTINST, 0o755)
        _write(debian / "prerm", PATCHDEMO_PRERM, 0o755)
        _write(debian / "postrm", PATCHDEMO_POSTRM, 0o755)
        _write(root / "usr/lib/webstack-patchdemo/serve", SERVE.format(version=version), 0o755)
        _write(root / "lib/systemd/system/webstack-patchdemo.service", UNIT)
    else:
        _write(debian / "control", _control(name, version, "package whose upgrade asks for a reboot"))
        _write(debian / "postinst", REBOOTDEMO_POSTINST.format(version=version), 0o755)
        _write(root / f"usr/share/doc/{name}/README", f"{name} {version}\n")
    deb = workdir / f"{name}_{version}_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", root, deb], check=True, capture_output=True)
    return deb


def packages_index(debs):
    """The Packages file of a flat repository holding these .deb files."""
    entries = []
    for deb in debs:
        control = subprocess.run(["dpkg-deb", "--field", deb], check=True, capture_output=True, text=True).stdout
        data = deb.read_bytes()
        entries.append(
            control.rstrip("\n")
            + f"\nFilename: ./{deb.name}\nSize: {len(data)}\nSHA256: {hashlib.sha256(data).hexdigest()}\n"
        )
    return "\n".join(entries)


def build(workdir):
    """Build 1.0 and 1.1 of both packages and the 1.1 repository under workdir; return workdir."""
    workdir = Path(workdir)
    (workdir / "old").mkdir(parents=True, exist_ok=True)
    (workdir / "repo").mkdir(parents=True, exist_ok=True)
    for name in (PATCHDEMO, REBOOTDEMO):
        build_deb(workdir / "old", name, "1.0")
        build_deb(workdir / "repo", name, "1.1")
    index = packages_index(sorted((workdir / "repo").glob("*.deb"))).encode()
    (workdir / "repo" / "Packages").write_bytes(index)
    date = datetime.now(timezone.utc).strftime("%a, %d %b %Y %H:%M:%S UTC")
    (workdir / "repo" / "Release").write_text(
        f"Origin: opsforge-tests\nLabel: opsforge-tests\nSuite: {SUITE}\nCodename: {SUITE}\nDate: {date}\n"
        f"Architectures: all amd64\nSHA256:\n {hashlib.sha256(index).hexdigest()} {len(index)} Packages\n"
    )
    return workdir


def _on(container, command):
    subprocess.run(["podman", "exec", container, "sh", "-c", command], check=True, capture_output=True, text=True)


def install(workdir, host, packages, container=None):
    """Install version 1.0 of packages on host, then publish the 1.1 repository there as an apt source."""
    container = container or f"lab-{host}"
    _on(container, f"rm -rf {HOST_DIR} && mkdir -p {HOST_DIR}")
    for part in ("old", "repo"):
        subprocess.run(["podman", "cp", str(Path(workdir) / part), f"{container}:{HOST_DIR}/{part}"], check=True)
    debs = " ".join(f"{HOST_DIR}/old/{name}_1.0_all.deb" for name in packages)
    _on(
        container,
        f"DEBIAN_FRONTEND=noninteractive dpkg -i {debs} >/dev/null"
        f" && echo 'deb [trusted=yes] file:{HOST_DIR}/repo ./' > {SOURCE}"
        f" && apt-get update -qq -o Dir::Etc::sourcelist={SOURCE} -o Dir::Etc::sourceparts=-"
        " -o APT::Get::List-Cleanup=0",
    )


def remove(host, container=None):
    """Purge the test packages and remove the source, the repository and their lists (the mirror's lists stay)."""
    _on(
        container or f"lab-{host}",
        "rm -f /etc/webstack-patchdemo/broken /etc/webstack-patchdemo/upgrade-hook;"
        f" DEBIAN_FRONTEND=noninteractive dpkg --purge {PATCHDEMO} {REBOOTDEMO} >/dev/null 2>&1;"
        f" rm -f {SOURCE} {LISTS} /run/reboot-required /run/reboot-required.pkgs"
        f" /run/webstack-patchdemo.version; rm -rf {HOST_DIR}",
    )
