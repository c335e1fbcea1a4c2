# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The decisions and the report of playbooks/patch.yml (the patch role): which packages to upgrade, what
needrestart says, and the report.

Each filter is documented in its own file beside this one (patch_selection.yml, patch_changes.yml,
patch_needrestart.yml, patch_patroni_restarts.yml, patch_report.yml, patch_report_table.yml), so that ansible-doc
shows each its own page.
"""

import json
import re

from ansible.errors import AnsibleFilterError

# `apt list --upgradable`: "name/suite[,suite...] new-version arch [upgradable from: old-version]"
_UPGRADABLE = re.compile(
    r"^(?P<name>[^/\s]+)/(?P<suites>\S+)\s+(?P<new>\S+)\s+\S+\s+\[upgradable from: (?P<old>[^\]]+)\]"
)
_NEEDRESTART = re.compile(r"^NEEDRESTART-(?P<key>[A-Z]+):\s*(?P<value>.*)$")
# Patroni mode: Debian's units of a server that Patroni runs (never restarted behind Patroni's back), Patroni's own
# unit, and the packages whose upgrade means the server or Patroni runs old code.
_POSTGRESQL_UNIT = re.compile(r"^postgresql(@.+)?\.service$")
_PATRONI_UNIT = re.compile(r"^patroni(@.+)?\.service$")
_PATRONI_PACKAGES = re.compile(r"^(patroni|postgresql-\d+)$")
SCOPES = ("security", "all")


def patch_selection(lines, scope="security", hold=None, only=None):
    """The upgrades to apply from `apt list --upgradable` output (pure).

    Returns {"upgrade": [{name, old, new, suites, security}], "held": [...], "skipped": [...]}: a package is
    held when named in `hold`, skipped when out of `scope` (security: a candidate from a *-security suite)
    or, with `only`, not named there.
    """
    if scope not in SCOPES:
        raise AnsibleFilterError(f"patch_selection: scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    if isinstance(lines, str):
        lines = lines.splitlines()
    hold, only = set(hold or []), set(only or [])
    result = {"upgrade": [], "held": [], "skipped": []}
    for line in lines:
        match = _UPGRADABLE.match(line.strip())
        if not match:
            continue
        suites = match.group("suites").split(",")
        package = {
            "name": match.group("name"),
            "old": match.group("old"),
            "new": match.group("new"),
            "suites": suites,
            "security": any(suite.endswith("-security") for suite in suites),
        }
        if package["name"] in hold:
            result["held"].append(package)
        elif (scope == "security" and not package["security"]) or (only and package["name"] not in only):
            result["skipped"].append(package)
        else:
            result["upgrade"].append(package)
    return result


def _versions(lines):
    if isinstance(lines, str):
        lines = lines.splitlines()
    versions = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 2:
            versions[parts[0]] = parts[1]
    return versions


def patch_changes(after, before):
    """The packages whose version changed, from two `dpkg-query -W -f='${Package} ${Version}\\n'` listings (pure).

    Returns [{name, old, new}] sorted by name; old is null for a package installed by the upgrade, new null for
    one it removed.
    """
    old, new = _versions(before), _versions(after)
    return [
        {"name": name, "old": old.get(name), "new": new.get(name)}
        for name in sorted(set(old) | set(new))
        if old.get(name) != new.get(name)
    ]


def _unit_name(service):
    """needrestart names a service whose init script it found by the script's name ("ssh", not "ssh.service");
    systemd-manager is its name for PID 1 itself."""
    return service if "." in service or service == "systemd-manager" else f"{service}.service"


def patch_needrestart(output):
    """needrestart's batch output (`needrestart -b`) as {services, kernel_status, kernel_reboot, containers} (pure).

    kernel_status is NEEDRESTART-KSTA: 0 unknown, 1 current, 2 an ABI-compatible upgrade pending, 3 a newer
    kernel pending; kernel_reboot is true for 2 and 3.
    """
    services, containers, kernel_status = [], [], 0
    for line in (output or "").splitlines():
        match = _NEEDRESTART.match(line.strip())
        if not match:
            continue
        key, value = match.group("key"), match.group("value").strip()
        if key == "SVC" and value:
            unit = _unit_name(value)
            if unit not in services:
                services.append(unit)
        elif key == "CONT" and value:
            containers.append(value)
        elif key == "KSTA":
            kernel_status = int(value) if value.isdigit() else 0
    return {
        "services": sorted(services),
        "kernel_status": kernel_status,
        "kernel_reboot": kernel_status >= 2,
        "containers": containers,
    }


def patch_patroni_restarts(units, packages, running):
    """The units to restart on a member that Patroni runs (pure).

    units: the restarts decided for a host (needrestart's and the upgraded packages' running units); packages: the
    names of the upgraded packages; running: the units that ran before the upgrade. Debian's PostgreSQL units are
    dropped (Patroni owns the server); Patroni's running unit (patroni@<version>-<cluster>.service) is restarted,
    last, when one of them, Patroni's unit itself, or the server's or Patroni's package was in the list.
    """
    for name, value in (("units", units), ("packages", packages), ("running", running)):
        if not isinstance(value, list):
            raise AnsibleFilterError(f"patch_patroni_restarts: {name} must be a list, not {type(value).__name__}")
    patroni = [unit for unit in running if _PATRONI_UNIT.match(unit)]
    others = [unit for unit in units if not _POSTGRESQL_UNIT.match(unit) and not _PATRONI_UNIT.match(unit)]
    needed = len(others) < len(units) or any(_PATRONI_PACKAGES.match(package) for package in packages)
    return others + (patroni if needed else [])


def patch_report(results, hosts, done=None, stopped_at="", started="", finished=""):
    """The run's report from each host's result (pure).

    results: host -> the patch role's patch_result for the hosts it reached; hosts: every host of the run in
    order; done: hosts skipped as already patched (patch_done_hosts). A host with no result is reported as
    left out, with the reason. When the run stopped (stopped_at), `resume` holds the extra vars that skip the
    hosts already done.
    """
    done = list(done or [])
    rows = []
    for host in hosts:
        result = (results or {}).get(host)
        if host in done:
            rows.append({"host": host, "status": "skipped", "reason": "already patched (patch_done_hosts)"})
        elif result is None:
            reason = "not reached: the run stopped before it" if stopped_at else "not in this run"
            rows.append({"host": host, "status": "left out", "reason": reason})
        else:
            rows.append({"host": host, **result})
    finished_hosts = done + [r["host"] for r in rows if r.get("status") in ("patched", "up to date")]
    report = {
        "started": started,
        "finished": finished,
        "stopped_at": stopped_at or None,
        "hosts": rows,
        "rebooted": [r["host"] for r in rows if r.get("rebooted")],
        "done": finished_hosts,
    }
    if stopped_at:
        report["resume"] = {"patch_done_hosts": finished_hosts}
    return report


def _packages(row):
    changes = (f"{p['name']} {p['old'] or '(new)'} -> {p['new'] or '(removed)'}" for p in row.get("packages", []))
    return ", ".join(changes) or "-"


def patch_report_table(report):
    """The report as a text table, one line per host, then where the run stopped and how to resume (pure)."""
    if not isinstance(report, dict) or "hosts" not in report:
        raise AnsibleFilterError("patch_report_table expects the dict patch_report returns")
    header = ("host", "status", "seconds", "rebooted", "restarted", "packages (old -> new)")
    rows = [header]
    for row in report["hosts"]:
        rows.append(
            (
                row["host"],
                row.get("status", "-"),
                f"{row['seconds']:.1f}" if row.get("seconds") is not None else "-",
                ("yes" if row.get("rebooted") else "pending" if row.get("reboot_pending") else "no")
                if "rebooted" in row
                else "-",
                ", ".join(row.get("restarted", [])) or "-",
                _packages(row) if "packages" in row else row.get("reason", "-"),
            )
        )
    widths = [max(len(str(r[i])) for r in rows[:]) for i in range(len(header) - 1)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r[:-1], widths)) + "  " + str(r[-1]) for r in rows]
    for row in report["hosts"]:
        if row.get("reason") and "packages" in row:
            lines.append(f"{row['host']}: {row['reason']}")
    if report.get("stopped_at"):
        lines.append(f"The run stopped at {report['stopped_at']}; the hosts after it were not touched.")
        done = json.dumps(report["resume"])
        lines.append(f"Resume after fixing it: ansible-playbook playbooks/patch.yml -e '{done}'")
    return lines


class FilterModule:
    def filters(self):
        return {
            "patch_selection": patch_selection,
            "patch_changes": patch_changes,
            "patch_needrestart": patch_needrestart,
            "patch_patroni_restarts": patch_patroni_restarts,
            "patch_report": patch_report,
            "patch_report_table": patch_report_table,
        }
