"""DR drills on the lab: a failover drill loses the primary and recovers; a drill that cannot start touches nothing.

The restore drill, which proves the backups in its report, runs once, as AWX runs it (test_awx_jobs). The failover
drill leaves the other member as the primary, with the old one streaming from it.
"""

import json

import pytest
from conftest import playbook, pools_paused, primary, psql, scratch_data_stamp

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): fails the primary over, and checks that a
# refused drill leaves drill1 as it was.
LAB_USES = {"backup": "exclusive", "database": "exclusive", "drill": "exclusive", "primary": "exclusive"}


def only_report(directory, kind="restore"):
    reports = sorted(directory.glob(f"dr-{kind}-*.json"))
    assert len(reports) == 1, reports
    assert reports[0].with_suffix(".md").exists()
    return json.loads(reports[0].read_text())


def test_an_unknown_drill_kind_is_refused_before_anything(tmp_path):
    rc, out = playbook("playbooks/dr_drill.yml", "-e", f"drill_report_dir={tmp_path}", "-e", "drill_kind=meteor")
    assert rc != 0
    assert "drill_kind=meteor is not a drill this playbook runs (restore, failover). Nothing was changed." in out
    assert not pools_paused()


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (["-e", "drill_host=drill-nowhere"], "drill-nowhere cannot be reached"),
        (["-e", "drill_min_standbys=2"], "1 streaming (db"),
    ],
    ids=["unreachable scratch host", "too few standbys"],
)
def test_a_drill_that_cannot_start_stops_before_touching_anything_and_says_where(tmp_path, extra, reason):
    before = scratch_data_stamp()

    rc, out = playbook("playbooks/dr_drill.yml", "-e", f"drill_report_dir={tmp_path}", *extra)
    assert rc != 0
    assert reason in " ".join(out.split())
    report = only_report(tmp_path)
    assert report["status"] == "refused" and report["stopped_at"] == "pre-checks"
    assert reason in report["message"]
    assert report["restore_point"] is None and report["verdicts"]["rto"] == "not measured"

    # Nothing was touched: PgBouncer not paused, the scratch host as it was.
    assert not pools_paused()
    assert scratch_data_stamp() == before


def test_a_failover_drill_promotes_the_standby_rebuilds_the_old_primary_and_reports_the_outage(tmp_path):
    old = primary()
    rc, out = playbook(
        "playbooks/dr_drill.yml",
        "-e",
        "drill_kind=failover",
        "-e",
        f"drill_report_dir={tmp_path}",
        "-e",
        "drill_failover_warmup=3",
    )
    assert rc == 0, out[-4000:]
    report = only_report(tmp_path, "failover")

    new = primary()
    assert new != old
    assert (report["status"], report["old_primary"], report["new_primary"]) == ("passed", old, new)
    assert all(check["ok"] for check in report["checks"]), report["checks"]
    assert psql(new, "SELECT string_agg(application_name, ',') FROM pg_stat_replication WHERE state = 'streaming'")
    # The writer saw the outage (writes that failed, or that PgBouncer held) and the way back; with asynchronous
    # replication lost commits are counted.
    assert report["measured"]["write_outage_s"] > 0
    assert (
        report["commits"]["acknowledged"] > 0
        and report["commits"]["lost"] == report["measured"]["lost_acknowledged_commits"]
    )
    for measured in ("kill_to_promoted_s", "kill_to_pgbouncer_repointed_s", "rebuild_old_primary_s"):
        assert report["measured"][measured] > 0, measured
    assert tmp_path.joinpath(report["drill_id"] + ".svg").read_text().startswith("<svg")
    assert not pools_paused()


def test_failover_is_refused_while_the_primary_accepts_writes():
    host = primary()
    rc, out = playbook("playbooks/failover.yml")
    assert rc != 0
    assert f"{host} answers and accepts writes" in " ".join(out.split())
    assert primary() == host
    assert not pools_paused()
