# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""dr_drill.yml's decisions: the pre-checks, the recovery times from the copy's log, the report."""

from xml.etree import ElementTree

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.opsforge.webstack.plugins.filter.dr_drill import (
    drill_prechecks,
    drill_recovery_times,
    drill_report,
    drill_report_markdown,
    drill_timeline_svg,
)

HEALTHY = {
    "host": "drill1",
    "reachable": True,
    "member": False,
    "topology": {"primary": "db1", "standbys": ["db2"], "error": None},
    "backups": [{"label": "20261203-061349F", "stop_epoch": 1796278429.0}],
    "replicas": [{"application_name": "db2", "state": "streaming", "lag_bytes": 120}],
    "min_standbys": 1,
    "max_lag_bytes": 16777216,
}


def failed(read):
    return {check["name"]: check["detail"] for check in drill_prechecks(read) if not check["ok"]}


def test_a_healthy_cluster_with_a_backup_and_a_reachable_scratch_host_passes():
    checks = drill_prechecks(HEALTHY)
    assert [c["name"] for c in checks] == [
        "scratch host reachable",
        "scratch host outside the cluster",
        "cluster has one primary",
        "a finished backup exists",
        "standbys streaming",
        "replication lag within the limit",
    ]
    assert all(c["ok"] for c in checks)


@pytest.mark.parametrize(
    ("change", "name", "said"),
    [
        ({"reachable": False, "unreachable_msg": "ssh: no route"}, "scratch host reachable", "ssh: no route"),
        ({"member": True}, "scratch host outside the cluster", "never restores over one"),
        ({"topology": {"primary": None, "error": "two primaries"}}, "cluster has one primary", "two primaries"),
        ({"backups": []}, "a finished backup exists", "run playbooks/backup.yml"),
        ({"backups": [{"label": "x", "stop_epoch": None}]}, "a finished backup exists", "no finished backup"),
        ({"min_standbys": 2}, "standbys streaming", "1 streaming (db2), at least 2 wanted"),
        ({"max_lag_bytes": 100}, "replication lag within the limit", "largest lag 120 bytes, limit 100"),
    ],
)
def test_each_fault_fails_its_check_and_says_why(change, name, said):
    problems = failed({**HEALTHY, **change})
    assert list(problems) == [name]
    assert said in problems[name]


def test_no_standby_fails_both_replication_checks():
    assert set(failed({**HEALTHY, "replicas": [{"application_name": "db2", "state": "catchup", "lag_bytes": 0}]})) == {
        "standbys streaming",
        "replication lag within the limit",
    }


def test_prechecks_refuse_what_is_not_a_dict():
    with pytest.raises(AnsibleFilterError):
        drill_prechecks(["not", "a", "dict"])


LOG = """2026-12-03 10:40:00.000 UTC [100] LOG:  starting PostgreSQL 15.8 (Debian 15.8-0+deb12u1) on x86_64
2026-12-03 10:40:00.100 UTC [100] LOG:  database system is ready to accept connections
2026-12-03 10:41:10.000 UTC [200] LOG:  starting PostgreSQL 15.8 (Debian 15.8-0+deb12u1) on x86_64
2026-12-03 10:41:10.050 UTC [202] LOG:  starting point-in-time recovery to "dr-restore-20261203T104000Z"
2026-12-03 10:41:10.300 UTC [202] LOG:  redo starts at 0/5000028
2026-12-03 10:41:11.050 UTC [202] LOG:  consistent recovery state reached at 0/5000100
2026-12-03 10:41:11.060 UTC [200] LOG:  database system is ready to accept read-only connections
2026-12-03 10:41:11.800 UTC [202] LOG:  recovery stopping at restore point "dr-restore-20261203T104000Z"
2026-12-03 10:41:11.900 UTC [202] LOG:  redo done at 0/5000100 system usage: CPU: user: 0.00 s, elapsed: 1.60 s
2026-12-03 10:41:12.000 UTC [202] LOG:  selected new timeline ID: 2
2026-12-03 10:41:12.500 UTC [200] LOG:  database system is ready to accept connections
2026-12-03 10:41:12.600 UTC [300] postgres@shop LOG:  connection authorized: user=postgres"""


def test_recovery_times_come_from_the_last_start_in_the_log():
    times = drill_recovery_times(LOG.splitlines(), "2026-12-03 10:41:02.250000", "2026-12-03 10:41:09.750000")
    assert times == {
        "fetch_and_restore_s": 7.5,
        "wal_replay_s": 1.6,
        "accepts_connections_s": 2.5,
        "restore_to_ready_s": 10.25,
    }


def test_what_the_log_does_not_show_is_not_measured():
    times = drill_recovery_times(LOG.splitlines()[:2], "2026-12-03 10:39:59.000000", None)
    assert times == {
        "fetch_and_restore_s": None,
        "wal_replay_s": None,
        "accepts_connections_s": 0.1,
        "restore_to_ready_s": 1.1,
    }


RECORD = {
    "id": "dr-restore-20261203T104000Z",
    "kind": "restore",
    "status": "passed",
    "collection": {"name": "opsforge.webstack", "version": "0.1.0", "git_revision": "abc1234"},
    "targets": {"rto_seconds": 14400, "rpo_seconds": 60},
    "source": {"host": "db1", "backup": {"label": "20261203-061349F", "type": "full", "stop": "2026-12-03 06:13:49"}},
    "scratch_host": "drill1",
    "restore_point": {"name": "dr-restore-20261203T104000Z", "lsn": "0/5000100", "time": "2026-12-03 10:40:01+00"},
    "steps": [
        {"name": "pre-checks", "start": 1796294400.0, "end": 1796294403.25},
        {"name": "restore to the restore point", "start": 1796294410.0, "end": 1796294440.0},
    ],
    "checks": [{"name": "every table equal", "ok": True, "detail": "12 tables compared, 0 differ"}],
    "tables": {"equal": True, "compared": 12, "differences": []},
    "measured": {"rto_s": 30.0001, "rpo_s": 0},
    "kept": False,
}


def test_the_report_has_durations_times_in_utc_and_verdicts():
    report = drill_report(RECORD)
    assert report["steps"][0] == {
        "name": "pre-checks",
        "start": "2026-12-03T10:40:00.000+00:00",
        "end": "2026-12-03T10:40:03.250+00:00",
        "duration_s": 3.25,
    }
    assert report["started"] == "2026-12-03T10:40:00.000+00:00"
    assert report["finished"] == "2026-12-03T10:40:40.000+00:00"
    assert report["measured"] == {"rto_s": 30.0, "rpo_s": 0}
    assert report["verdicts"] == {"rto": "met", "rpo": "met"}


def test_a_slow_restore_breaches_the_rto_and_a_different_copy_the_rpo():
    record = {
        **RECORD,
        "status": "failed",
        "measured": {"rto_s": 20000},
        "tables": {"equal": False, "compared": 1, "differences": []},
    }
    assert drill_report(record)["verdicts"] == {"rto": "breached", "rpo": "breached"}


def test_a_refused_drill_reports_where_it_stopped_and_measures_nothing():
    record = {
        **RECORD,
        "status": "refused",
        "stopped_at": "pre-checks",
        "message": "drill9 cannot be reached",
        "measured": {},
        "tables": None,
        "steps": RECORD["steps"][:1],
    }
    report = drill_report(record)
    assert report["verdicts"] == {"rto": "not measured", "rpo": "not measured"}
    text = drill_report_markdown(report)
    assert text.startswith("# DR drill dr-restore-20261203T104000Z: restore, REFUSED\n")
    assert "**Stopped at:** pre-checks. drill9 cannot be reached" in text


def test_the_markdown_shows_targets_steps_checks_and_differences():
    record = {
        **RECORD,
        "tables": {
            "equal": False,
            "compared": 12,
            "differences": [
                {
                    "database": "shop",
                    "table": "public.orders",
                    "problem": "row counts differ",
                    "source_rows": 3,
                    "copy_rows": 2,
                }
            ],
        },
    }
    text = drill_report_markdown(drill_report(record))
    assert "| RTO | 30.000 s | 14400.000 s | met |" in text
    assert "| RPO | 0.000 s | 60.000 s | breached |" in text
    assert "| pre-checks | 2026-12-03T10:40:00.000+00:00 | 2026-12-03T10:40:03.250+00:00 | 3.250 s |" in text
    assert "| every table equal | ok | 12 tables compared, 0 differ |" in text
    assert "- shop.public.orders: row counts differ (source 3, copy 2)" in text
    assert "collection: opsforge.webstack 0.1.0 (git abc1234)" in text


def test_the_timeline_is_an_svg_with_the_writes_the_outage_and_the_steps():
    per_second = [{"second": n, "ok": 0 if 3 <= n <= 5 else 40, "errors": 2 if n == 3 else 0} for n in range(8)]
    steps = [{"name": "primary killed", "start": 1003.2}, {"name": "failover <playbook>", "start": 1004.0}]
    svg = drill_timeline_svg(per_second, 1000.0, steps, {"stalled_at": 1003.3, "writes_back_at": 1006.1})
    root = ElementTree.fromstring(svg)
    assert root.tag.endswith("svg")
    texts = [element.text for element in root.iter() if element.tag.endswith("text")]
    assert "primary killed" in texts and "failover <playbook>" in texts
    fills = [element.get("fill") for element in root.iter() if element.tag.endswith("rect")]
    assert fills.count("#3a7d44") == 5 and fills.count("#c0392b") == 1 and fills.count("#f4cccc") == 1


def test_a_failover_drill_needs_no_scratch_host():
    checks = drill_prechecks({**HEALTHY, "kind": "failover", "reachable": False, "host": ""})
    assert [c["name"] for c in checks][:3] == [
        "cluster in one HA mode",
        "cluster has one primary",
        "a finished backup exists",
    ]
    assert all(c["ok"] for c in checks)
    assert "failover.yml fails over" in checks[0]["detail"]


def test_a_failover_drill_takes_a_patroni_cluster_and_refuses_one_half_moved():
    members = {"members": ["db1", "db2"]}
    checks = drill_prechecks({**HEALTHY, **members, "patroni_members": ["db2", "db1"], "kind": "failover"})
    assert all(c["ok"] for c in checks) and "Patroni fails over by itself" in checks[0]["detail"]
    problems = failed({**HEALTHY, **members, "patroni_members": ["db2"], "kind": "failover"})
    assert list(problems) == ["cluster in one HA mode"]
    assert "db2 run under Patroni and db1 do not" in problems["cluster in one HA mode"]
    assert "ha_mode.yml" in problems["cluster in one HA mode"]
    assert failed({**HEALTHY, **members, "patroni_members": ["db2"], "kind": "restore"}) == {}


def test_a_failover_report_carries_the_writer_view_and_names_its_timeline():
    record = {
        **RECORD,
        "kind": "failover",
        "old_primary": "db1",
        "new_primary": "db2",
        "errors_by_kind": {"OperationalError": 3},
        "commits": {"acknowledged": 900, "lost": 2, "rpo_seconds": 0.04},
        "tables": None,
    }
    report = drill_report(record)
    assert (report["old_primary"], report["new_primary"], report["commits"]["lost"]) == ("db1", "db2", 2)
    text = drill_report_markdown(report)
    assert "- db2 took over from db1" in text and "acknowledged commits: 900, lost: 2" in text
    assert f"- timeline: {RECORD['id']}.svg" in text
