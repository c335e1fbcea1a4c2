"""The job templates of awx/controller.yml that only read the data tier, run against the lab as AWX runs them
(conftest.launch, lab/awxjob.py), beside the app tier's tests: switchover as a check job, and answers the data tier's
playbooks refuse before any change.
"""

import pytest
from conftest import assert_awx_refused, awx_results, awx_unclean, awxjob, primary

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): asks for a switchover plan.
LAB_USES = {"database": "shared", "primary": "shared"}


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
