# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The decisions and the report of playbooks/dr_drill.yml: the checks before anything is touched, the report.

Each filter is documented in its own file beside this one (drill_prechecks.yml, drill_recovery_times.yml,
drill_report.yml, drill_report_markdown.yml), so that ansible-doc shows each its own page.
"""

import re
from datetime import datetime, timezone

from ansible.errors import AnsibleFilterError

# A line of PostgreSQL's log with Debian's log_line_prefix ('%m [%p] %q%u@%d '): time, zone, pid, message.
_LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) \S+ \[\d+\] (?:\S+ )?LOG:\s+(.*)$")
_RECOVERY_EVENTS = {
    "started": "starting PostgreSQL",
    "redo_started": "redo starts at",
    "redo_done": "redo done at",
    "ready": "database system is ready to accept connections",
}
_HOST_TIME = "%Y-%m-%d %H:%M:%S.%f"


def _check(name, ok, detail):
    return {"name": name, "ok": bool(ok), "detail": detail}


def drill_prechecks(read):
    """One check per condition the drill needs before it touches anything (pure)."""
    if not isinstance(read, dict):
        raise AnsibleFilterError("drill_prechecks expects a dict of what the drill read")
    host = read.get("host")
    checks = []
    # A failover drill restores nothing: it needs no scratch host.
    if read.get("kind", "restore") == "restore":
        checks += [
            _check(
                "scratch host reachable",
                read.get("reachable"),
                f"{host} answered"
                if read.get("reachable")
                else f"{host} cannot be reached: {read.get('unreachable_msg')}",
            ),
            _check(
                "scratch host outside the cluster",
                not read.get("member"),
                f"{host} is a member of the cluster: a drill never restores over one"
                if read.get("member")
                else f"{host} is not a cluster member",
            ),
        ]
    if read.get("kind") == "failover":
        # The drill kills the primary and measures what recovers it: failover.yml in the manual mode, Patroni itself
        # in the Patroni mode. A cluster half-way between the two (an unfinished ha_mode.yml) has neither.
        patroni = sorted(read.get("patroni_members") or [])
        manual = sorted(set(read.get("members") or []) - set(patroni))
        mixed = patroni and manual
        checks.append(
            _check(
                "cluster in one HA mode",
                not mixed,
                f"{', '.join(patroni)} run under Patroni and {', '.join(manual)} do not: a move between the HA "
                "modes stopped half-way; finish it (playbooks/ha_mode.yml) before the drill"
                if mixed
                else "Patroni fails over by itself: the drill kills the leader's Patroni and server and measures it"
                if patroni
                else "failover.yml fails over: the drill kills the primary's server and runs it",
            )
        )
    topology = read.get("topology") or {}
    checks.append(
        _check(
            "cluster has one primary",
            topology.get("primary") and not topology.get("error"),
            topology.get("error") or f"primary {topology.get('primary')}",
        )
    )
    finished = [b for b in read.get("backups") or [] if b.get("stop_epoch") is not None and not b.get("error")]
    checks.append(
        _check(
            "a finished backup exists",
            finished,
            f"{len(finished)} backups, newest {finished[-1]['label']}"
            if finished
            else "the stanza has no finished backup: run playbooks/backup.yml first",
        )
    )
    streaming = [r for r in read.get("replicas") or [] if r.get("state") == "streaming"]
    wanted = int(read.get("min_standbys", 1))
    checks.append(
        _check(
            "standbys streaming",
            len(streaming) >= wanted,
            f"{len(streaming)} streaming ({', '.join(sorted(r.get('application_name') or '?' for r in streaming))}),"
            f" at least {wanted} wanted",
        )
    )
    lags = [r.get("lag_bytes") for r in streaming if r.get("lag_bytes") is not None]
    limit = int(read.get("max_lag_bytes", 0))
    checks.append(
        _check(
            "replication lag within the limit",
            streaming and max(lags, default=0) <= limit,
            f"largest lag {max(lags, default=0)} bytes, limit {limit}" if streaming else "no standby to measure",
        )
    )
    return checks


def _host_time(text):
    return datetime.strptime(text if "." in text else text + ".0", _HOST_TIME)


def drill_recovery_times(log_lines, restore_start, restore_end):
    """Seconds of a restored server's recovery, from its log and the restore command's own times (pure).

    log_lines: the end of the server's log (Debian's log_line_prefix); only the lines from its last start count.
    restore_start, restore_end: the pgBackRest restore command's start and end as the command module reports
    them (the host's local time, the zone of the log on Debian). Returns fetch_and_restore_s, wal_replay_s
    (redo start to redo done), accepts_connections_s (server start to ready for read-write connections) and
    restore_to_ready_s (restore start to ready); None for what the log does not show.
    """
    events = {}
    for line in log_lines or []:
        match = _LOG_LINE.match(line)
        if not match:
            continue
        for name, marker in _RECOVERY_EVENTS.items():
            if match.group(2).startswith(marker):
                if name == "started":
                    events = {}
                events[name] = _host_time(match.group(1))

    def between(first, last):
        if first is None or last is None:
            return None
        return round((last - first).total_seconds(), 3)

    start = _host_time(restore_start) if restore_start else None
    end = _host_time(restore_end) if restore_end else None
    return {
        "fetch_and_restore_s": between(start, end),
        "wal_replay_s": between(events.get("redo_started"), events.get("redo_done")),
        "accepts_connections_s": between(events.get("started"), events.get("ready")),
        "restore_to_ready_s": between(start, events.get("ready")),
    }


def _iso(epoch):
    return None if epoch is None else datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds")


def _rounded(value, digits=3):
    return None if value is None else round(float(value), digits)


def _verdict(measured, target):
    if measured is None or target is None:
        return "not measured"
    return "met" if measured <= target else "breached"


def drill_report(record):
    """The report of a drill from its record: steps with durations, measurements against targets (pure).

    record holds id, kind, status, stopped_at, message, collection, targets, source, scratch_host, restore_point,
    steps (name, start, end as epoch seconds), checks, tables (the comparison), amcheck, measured (seconds), kept.
    """
    if not isinstance(record, dict):
        raise AnsibleFilterError("drill_report expects the drill's record (a dict)")
    steps = []
    for step in record.get("steps") or []:
        end = step.get("end")
        steps.append(
            {
                "name": step["name"],
                "start": _iso(step["start"]),
                "end": _iso(end),
                "duration_s": None if end is None else _rounded(end - step["start"]),
            }
        )
    measured = {key: _rounded(value) for key, value in (record.get("measured") or {}).items()}
    targets = record.get("targets") or {}
    verdicts = {
        "rto": _verdict(measured.get("rto_s"), targets.get("rto_seconds")),
        "rpo": _verdict(measured.get("rpo_s"), targets.get("rpo_seconds")),
    }
    if (record.get("tables") or {}).get("equal") is False:
        verdicts["rpo"] = "breached"  # the copy does not hold what was committed before the restore point
    checks = list(record.get("checks") or [])
    status = record.get("status") or ("passed" if checks and all(c["ok"] for c in checks) else "failed")
    starts = [s["start"] for s in record.get("steps") or []]
    ends = [s["end"] for s in record.get("steps") or [] if s.get("end") is not None]
    return {
        "drill_id": record.get("id"),
        "kind": record.get("kind"),
        "status": status,
        "stopped_at": record.get("stopped_at"),
        "message": record.get("message"),
        "collection": record.get("collection"),
        "started": _iso(min(starts)) if starts else None,
        "finished": _iso(max(ends)) if ends else None,
        "targets": targets,
        "source": record.get("source"),
        "scratch_host": record.get("scratch_host"),
        "restore_point": record.get("restore_point"),
        "steps": steps,
        "measured": measured,
        "verdicts": verdicts,
        "checks": checks,
        "tables": record.get("tables"),
        "amcheck": record.get("amcheck"),
        "kept": record.get("kept"),
        # The failover drill's own: who took over, the writer's view (its outage, errors, commits lost), the timeline.
        **{
            key: record[key]
            for key in ("old_primary", "new_primary", "errors_by_kind", "commits", "timeline")
            if key in record
        },
    }


def _seconds(value):
    return "-" if value is None else f"{value:.3f} s"


def drill_report_markdown(report):
    """The report as Markdown, for people (pure)."""
    lines = [
        f"# DR drill {report['drill_id']}: {report['kind']}, {report['status'].upper()}",
        "",
    ]
    if report.get("stopped_at"):
        lines += [f"**Stopped at:** {report['stopped_at']}. {report.get('message') or ''}".rstrip(), ""]
    collection = report.get("collection") or {}
    source = report.get("source") or {}
    backup = source.get("backup") or {}
    lines += [
        f"- collection: {collection.get('name')} {collection.get('version')} (git {collection.get('git_revision')})",
        f"- started {report.get('started')}, finished {report.get('finished')}",
        f"- source: {source.get('host')}, PostgreSQL {source.get('postgresql_version')}, system identifier "
        f"{source.get('system_identifier')}"
        + (
            f", {source['database_size_bytes']} bytes in the databases read"
            if source.get("database_size_bytes")
            else ""
        ),
        f"- backup: {backup.get('label')} ({backup.get('type')}, stopped {backup.get('stop')})",
    ]
    if report.get("kind") == "restore":
        lines.append(
            f"- scratch host: {report.get('scratch_host')} (copy {'kept' if report.get('kept') else 'removed'})"
        )
    point = report.get("restore_point")
    if point:
        lines.append(f"- restore point: {point.get('name')} at {point.get('lsn')} ({point.get('time')})")
    targets, measured, verdicts = report.get("targets") or {}, report.get("measured") or {}, report["verdicts"]
    lines += [
        "",
        "## RTO and RPO",
        "",
        "| | measured | target | verdict |",
        "| --- | --- | --- | --- |",
        f"| RTO | {_seconds(measured.get('rto_s'))} | {_seconds(targets.get('rto_seconds'))} | {verdicts['rto']} |",
        f"| RPO | {_seconds(measured.get('rpo_s'))} | {_seconds(targets.get('rpo_seconds'))} | {verdicts['rpo']} |",
        "",
        "## Measured",
        "",
        "| what | value |",
        "| --- | --- |",
    ]
    lines += [f"| {key} | {_seconds(value) if key.endswith('_s') else value} |" for key, value in measured.items()]
    lines += ["", "## Steps", "", "| step | start (UTC) | end (UTC) | duration |", "| --- | --- | --- | --- |"]
    lines += [
        f"| {s['name']} | {s['start']} | {s['end'] or '-'} | {_seconds(s['duration_s'])} |" for s in report["steps"]
    ]
    lines += ["", "## Checks", "", "| check | result | detail |", "| --- | --- | --- |"]
    lines += [f"| {c['name']} | {'ok' if c['ok'] else 'FAILED'} | {c['detail']} |" for c in report["checks"]]
    if report.get("new_primary"):
        commits = report.get("commits") or {}
        lines += [
            "",
            "## Failover",
            "",
            f"- {report.get('new_primary')} took over from {report.get('old_primary')}",
            f"- acknowledged commits: {commits.get('acknowledged')}, lost: {commits.get('lost')}",
            f"- client errors by kind: {report.get('errors_by_kind') or 'none'}",
            f"- timeline: {report['drill_id']}.svg",
        ]
    tables = report.get("tables")
    if tables:
        lines += [
            "",
            f"## Tables: {tables.get('compared')} compared, {'all equal' if tables.get('equal') else 'DIFFERENT'}",
        ]
        lines += [
            f"- {d['database']}.{d['table']}: {d['problem']} (source {d.get('source_rows')}, copy {d.get('copy_rows')})"
            for d in tables.get("differences") or []
        ]
    return "\n".join(lines) + "\n"


def _escape(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def drill_timeline_svg(per_second, started_at, steps, outage=None):
    """A timeline of a failover drill as SVG: writes per second (acknowledged and failed), the steps, the outage.

    per_second: [{second, ok, errors}] from started_at (epoch seconds); steps: [{name, start}] in epoch seconds;
    outage: {stalled_at, writes_back_at} in epoch seconds, or None (pure).
    """
    if not isinstance(per_second, list):
        raise AnsibleFilterError("drill_timeline_svg expects the writer's writes per second (a list)")
    seconds = max(len(per_second), 1)
    step_px, left, top, height = 8, 50, 30, 200
    width = left + seconds * step_px + 160
    peak = max([s["ok"] + s["errors"] for s in per_second] + [1])

    def x(when):
        return left + (when - started_at) * step_px

    def y(count):
        return top + height - count * height / peak

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{top + height + 60}" '
        'font-family="sans-serif" font-size="11">',
        f'<text x="{left}" y="18" font-size="13">writes per second through PgBouncer: acknowledged (green), '
        "failed (red); the write outage shaded</text>",
        f'<line x1="{left}" y1="{top + height}" x2="{left + seconds * step_px}" y2="{top + height}" stroke="#444"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{peak}</text>',
        f'<text x="{left - 6}" y="{top + height}" text-anchor="end">0</text>',
    ]
    if outage and outage.get("stalled_at") is not None:
        begin = x(outage["stalled_at"])
        end = x(outage.get("writes_back_at") or started_at + seconds)
        parts.append(
            f'<rect x="{begin:.1f}" y="{top}" width="{max(end - begin, 1):.1f}" height="{height}" '
            'fill="#f4cccc" opacity="0.6"/>'
        )
    for second in per_second:
        bar_x = left + second["second"] * step_px
        if second["ok"]:
            parts.append(
                f'<rect x="{bar_x}" y="{y(second["ok"]):.1f}" width="{step_px - 1}" '
                f'height="{top + height - y(second["ok"]):.1f}" fill="#3a7d44"/>'
            )
        if second["errors"]:
            parts.append(
                f'<rect x="{bar_x}" y="{y(second["ok"] + second["errors"]):.1f}" width="{step_px - 1}" '
                f'height="{y(second["ok"]) - y(second["ok"] + second["errors"]):.1f}" fill="#c0392b"/>'
            )
    for number, step in enumerate(s for s in steps or [] if s["start"] >= started_at):
        step_x = x(step["start"])
        label_y = top + height + 14 + (number % 3) * 14
        parts.append(
            f'<line x1="{step_x:.1f}" y1="{top}" x2="{step_x:.1f}" y2="{label_y - 10}" stroke="#333" '
            'stroke-dasharray="3,3"/>'
        )
        parts.append(f'<text x="{step_x + 2:.1f}" y="{label_y}">{_escape(step["name"])}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


class FilterModule:
    def filters(self):
        return {
            "drill_prechecks": drill_prechecks,
            "drill_report": drill_report,
            "drill_report_markdown": drill_report_markdown,
            "drill_recovery_times": drill_recovery_times,
            "drill_timeline_svg": drill_timeline_svg,
        }
