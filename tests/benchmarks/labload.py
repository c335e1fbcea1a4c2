# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the lab benchmarks share: the controller's PostgreSQL client tools run inside a lab container's network
namespace (nothing is installed in the lab for a benchmark), commands on lab hosts, and ansible-playbook runs
with the repository's configuration."""

import os
import runpy
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def controller_pg_bin():
    """The controller's PostgreSQL programs: the newest installed (lab/setup-host.sh installs its Debian release's:
    15 on Debian 12, 17 on Debian 13); 15's path, for require_tools to name, when there is none."""
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"), key=lambda path: int(path.parts[-3]))
    return installed[-1].parent if installed else Path("/usr/lib/postgresql/15/bin")


PGBENCH = str(controller_pg_bin() / "pgbench")
PSQL = str(controller_pg_bin() / "psql")


def require_tools(*tools):
    for tool in tools:
        if not shutil.which(tool):
            sys.exit(f"{tool} not found on the controller")


def container_pid(name):
    out = subprocess.run(
        ["podman", "inspect", "-f", "{{.State.Pid}}", name], capture_output=True, text=True, check=False
    )
    if out.returncode != 0 or not out.stdout.strip().isdigit() or out.stdout.strip() == "0":
        sys.exit(f"container {name} is not running: {out.stderr.strip()}")
    return out.stdout.strip()


def in_netns(pid, cmd):
    return ["nsenter", "-t", pid, "-n", *cmd]


def on_host(host, command, check=True):
    """A shell command on a lab host (container lab-<host>); its stdout, stripped."""
    result = subprocess.run(
        ["podman", "exec", f"lab-{host}", "sh", "-c", command], capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        sys.exit(f"on {host}: {command!r} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    return result.stdout.strip()


def lab_cgroups():
    """The cgroup directory of each running lab container (lab-*), cgroup v1 (cpuacct) or v2."""
    ids = subprocess.run(
        ["podman", "ps", "--filter", "name=^lab-", "--format", "{{.ID}}"], capture_output=True, text=True, check=True
    ).stdout.split()
    paths = subprocess.run(
        ["podman", "inspect", "--format", "{{.State.CgroupPath}}", *ids], capture_output=True, text=True, check=True
    ).stdout.split()
    v1 = Path("/sys/fs/cgroup/cpuacct")
    return [v1 / path.lstrip("/") if v1.is_dir() else Path("/sys/fs/cgroup") / path.lstrip("/") for path in paths]


def cpu_seconds(cgroups):
    """CPU seconds the processes of these cgroups have used so far (cpuacct.usage in v1, cpu.stat in v2)."""
    total = 0.0
    for cgroup in cgroups:
        if (cgroup / "cpuacct.usage").exists():
            total += int((cgroup / "cpuacct.usage").read_text()) / 1e9
        else:
            stat = dict(line.split() for line in (cgroup / "cpu.stat").read_text().splitlines())
            total += int(stat["usage_usec"]) / 1e6
    return total


# What each Debian release brings (the collection's one table).
RELEASES = runpy.run_path(str(REPO / "plugins" / "module_utils" / "debian_releases.py"))["RELEASES"]


def pg_version(host):
    """The PostgreSQL major version of a lab host's Debian release (15 on bookworm, 17 on trixie)."""
    return RELEASES[on_host(host, ". /etc/os-release && echo $VERSION_CODENAME")]["postgresql_version"]


def as_postgres(host, sql, database="postgres"):
    """One query as the postgres user on a database host; its rows, unaligned."""
    return on_host(host, f"runuser -u postgres -- psql -XAtq -v ON_ERROR_STOP=1 -d {database} -c {shlex.quote(sql)}")


def primary(hosts=("db1", "db2")):
    for host in hosts:
        if on_host(host, "runuser -u postgres -- psql -XAtqc 'SELECT pg_is_in_recovery()'", check=False) == "f":
            return host
    sys.exit(f"none of {', '.join(hosts)} is a running primary")


def playbook_env():
    return dict(
        os.environ,
        ANSIBLE_CONFIG=str(REPO / "lab" / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(REPO / ".cache" / "collections"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_CALLBACK_RESULT_FORMAT="json",
    )


def ansible_playbook(*args, inventory=None, timeout=900):
    """ansible-playbook from the controller's virtualenv; the completed process (output captured)."""
    command = [str(Path(sys.executable).parent / "ansible-playbook")]
    if inventory:
        command += ["-i", inventory]
    return subprocess.run(
        [*command, *args], env=playbook_env(), capture_output=True, text=True, check=False, timeout=timeout
    )
