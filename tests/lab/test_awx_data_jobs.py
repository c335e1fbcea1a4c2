"""The job templates of awx/controller.yml that only read the data tier or back it up, run against the lab as AWX
runs them (conftest.launch, lab/awxjob.py), beside the app tier's tests: the nightly backup check for real,
switchover as a check job, and answers the playbooks refuse before any change.
"""

import pytest
from conftest import AWX_SCHEDULES, awx_results, awx_unclean, awxjob, primary

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): backs up, and asks for a switchover plan.
LAB_USES = {"backup": "exclusive", "database": "shared", "primary": "shared"}


def test_the_nightly_backup_check_job_backs_up_checks_and_lists_the_backups(launch):
    schedule = AWX_SCHEDULES["webstack nightly backup check"]
    job = launch(schedule["unified_job_template"], 102, answers=schedule["extra_data"])
    assert job["status"] == "successful", awxjob.failure_messages(job["events"])
    assert awx_unclean(awxjob.recap(job["events"])) == {}
    (checked,) = awx_results(job, "runner_on_ok", "Check that WAL reaches the repository")
    # the include_role task of the same name reports too: the table is the debug task's list of lines
    (table,) = [
        r for r in awx_results(job, "runner_on_ok", "Show the backups") if isinstance(r["res"].get("msg"), list)
    ]
    assert checked["host"] == table["host"] == primary()
    # the table: stanza line, header, one line per backup, archive line; the job's backup is the newest
    backups = [line.split() for line in table["res"]["msg"][2:-1]]
    # pgBackRest takes a full backup when asked for an incremental one on a stanza with none yet (a fresh lab)
    assert backups[-1][1] == "incr" or (len(backups) == 1 and backups[-1][1] == "full"), table["res"]["msg"]


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
        (111, "webstack deploy", {"deploy_version": "9.9.9"}, False, "9.9.9 cannot be installed: no wheel"),
        (112, "webstack switchover", {"switchover_target": "lb1"}, True, "lb1 is not a member of group 'postgres'"),
        (113, "webstack restore", {"restore_host": "db9"}, False, "Name the host to restore onto"),
    ],
    ids=["a release that does not exist", "a target outside the cluster", "a host outside the inventory"],
)
def test_a_bad_answer_fails_in_the_playbooks_own_checks_before_any_change(
    launch, job_id, name, answers, check, refusal
):
    job = launch(name, job_id, answers=answers, check=check)
    assert job["status"] == "failed"
    assert [message for message in awxjob.failure_messages(job["events"]) if refusal in message], job["stdout"][-3000:]
    changed = [e["event_data"]["task"] for e in job["events"] if e.get("event_data", {}).get("res", {}).get("changed")]
    assert changed == []
