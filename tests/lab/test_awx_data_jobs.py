"""The job templates of awx/controller.yml that only read the data tier, run against the lab as AWX runs them
(conftest.launch, lab/awxjob.py), beside other tests: the restore drill (the lab tests' one, restoring the
backup of test_awx_jobs' nightly backup check), switchover as a check job, and answers the data tier's playbooks
refuse before any change. The drill's snapshot holds every PgBouncer for a fraction of a second (pgbouncer_hold):
the clients of the tests beside it wait that long, none fails.
"""

import pytest
from conftest import (
    assert_awx_refused,
    awx_results,
    awx_unclean,
    awxjob,
    on_host,
    pg_version,
    pools_paused,
    primary,
    psql,
)

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): asks for a switchover plan, restores a
# drill onto drill1 from the stanza's latest backup, pausing every PgBouncer for an instant.
LAB_USES = {"database": "shared", "primary": "shared", "backup": "shared", "drill": "exclusive"}
PROBE = "webstack_drill_probe"


def test_the_dr_drill_job_restores_every_table_at_its_restore_point_and_reports_rto_and_rpo(launch):
    """The lab's one restore drill (test_dr_drill has the failover drill and the refusals): run as AWX runs it."""
    host = primary()
    psql(host, f"DROP TABLE IF EXISTS {PROBE}; CREATE TABLE {PROBE} (id int PRIMARY KEY, note text)")
    psql(host, f"INSERT INTO {PROBE} SELECT n, md5(n::text) FROM generate_series(1, 500) AS n")

    job = launch("webstack DR drill", 105)
    assert job["status"] == "successful", awxjob.failure_messages(job["events"])
    assert awx_unclean(awxjob.recap(job["events"])) == {}
    # the job's directory goes when the job ends: the report stays as the job's artifacts
    (stats,) = [e["event_data"] for e in job["events"] if e.get("event") == "playbook_on_stats"]
    report = stats["artifact_data"]["dr_drill_report"]

    assert report["drill_id"].startswith("dr-restore-") and report["status"] == "passed", report.get("message")
    assert report["stopped_at"] is None and report["restore_point"]["name"] == report["drill_id"]
    assert report["source"]["host"] == host and report["source"]["system_identifier"]
    assert report["source"]["backup"]["label"]
    assert report["tables"]["equal"] and report["tables"]["differences"] == []
    assert report["tables"]["compared"] == report["source"]["tables"] >= 2
    assert all(check["ok"] for check in report["checks"]), report["checks"]
    assert "pg_amcheck (heap and all indexes)" in {check["name"] for check in report["checks"]}
    assert report["measured"]["rpo_s"] == 0 and report["verdicts"]["rpo"] == "met"
    for measured in ("fetch_and_restore_s", "wal_replay_s", "accepts_connections_s", "verification_s", "rto_s"):
        assert report["measured"][measured] >= 0, measured
    assert report["verdicts"]["rto"] == "met"
    # Every PgBouncer was held only while the primary fixed the snapshot.
    assert set(report["source"]["pgbouncer_pause_ms"]) == {"app1", "app2", "worker1"}
    print(
        f"restore drill: PgBouncer paused {report['source']['pgbouncer_pause_ms']} ms, the snapshot's part "
        f"{report['source']['snapshot_in_pause_ms']} ms"
    )
    # Milliseconds on a quiet lab (99-156 under writes); the bound leaves room for the tests beside it.
    assert report["measured"]["writes_paused_s"] < 3, report["source"]["pgbouncer_pause_ms"]
    assert report["source"]["transactions_between_snapshot_and_restore_point"] == 0
    assert [step["name"] for step in report["steps"]] == [
        "pre-checks",
        "snapshot with PgBouncer paused",
        "source checksums and the restore point archived",
        "restore to the restore point",
        "verification (tables and pg_amcheck)",
    ]

    # The copy is gone, PgBouncer serves again, the primary is where it was.
    assert on_host("drill1", f"ls -A /var/lib/postgresql/{pg_version('drill1')}/main | wc -l") == "0"
    assert not pools_paused()
    assert primary() == host
    psql(host, f"DROP TABLE {PROBE}")


def test_the_switchover_check_job_reports_the_plan_and_keeps_the_primary(launch):
    before = primary()
    job = launch("webstack switchover", 104, check=True)
    assert job["status"] == "successful", awxjob.failure_messages(job["events"])
    assert awx_unclean(awxjob.recap(job["events"])) == {}
    (plan,) = awx_results(job, "runner_on_ok", "Report the plan (check mode)")
    assert plan["res"]["msg"]["would_promote"] != before
    assert plan["res"]["msg"]["would_demote"].startswith(f"{before} ")
    assert primary() == before


@pytest.mark.parametrize(
    ("job_id", "name", "answers", "check", "refusal"),
    [
        (112, "webstack switchover", {"switchover_target": "lb1"}, True, "lb1 is not a member of group 'postgres'"),
        (113, "webstack restore", {"restore_host": "db9"}, False, "Name the host to restore onto"),
    ],
    ids=["a target outside the cluster", "a host outside the inventory"],
)
def test_a_bad_answer_fails_in_the_playbooks_own_checks_before_any_change(
    launch, job_id, name, answers, check, refusal
):
    assert_awx_refused(launch(name, job_id, answers=answers, check=check), refusal)
