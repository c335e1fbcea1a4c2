"""The failover drill on the lab: it loses the primary and recovers.

The restore drill, which proves the backups in its report, runs once, as AWX runs it (test_awx_jobs); the drills
that cannot start are test_dr_drill_preflight.py's. The failover drill leaves the other member as the primary, with
the old one streaming from it.
"""

from conftest import failure, only_report, playbook, pools_paused, primary, psql

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): fails the primary over.
LAB_USES = {"backup": "exclusive", "database": "exclusive", "drill": "exclusive", "primary": "exclusive"}


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
    assert rc == 0, failure(out)
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
