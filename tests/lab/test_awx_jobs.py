"""The job templates of awx/controller.yml run against the lab as AWX runs them: the jobs that need the lab to
themselves (test_awx_data_jobs has those that only read the data tier, beside other tests).

Each job is laid out as AWX lays it out (lab/awxjob.py: env/extravars with the survey's defaults and the awx_*
variables, env/cmdline, an executable inventory script, project/ as a copy of the repository, the collection in
requirements_collections) and runs through ansible-runner transmit | worker | process; its events are read back.
The inventory is the lab's, exported as AWX would import it (conftest.awx_inventory). Only read-only or reversible
jobs run: here the stack check, the site job (limited), the nightly backup check (whose backup the restore drill of
test_awx_data_jobs restores: a new lab has none before it), for real, and the deploy job's refusal (the deploy job
reaches the app servers).
"""

from conftest import (
    AWX_SCHEDULES,
    LAB_PARTS,
    assert_awx_refused,
    awx_results,
    awx_unclean,
    awxjob,
    primary,
)

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): places an order through every tier, runs
# the site job, which must find nothing to change, and backs up.
LAB_USES = dict.fromkeys(LAB_PARTS, "exclusive")


def test_the_stack_check_job_places_an_order_and_reads_it_on_a_replica(launch):
    job = launch("webstack stack check", 101)
    assert job["status"] == "successful", awxjob.failure_messages(job["events"])
    recap = awxjob.recap(job["events"])
    assert awx_unclean(recap) == {}
    (report,) = awx_results(job, "runner_on_ok", "Report the check")
    assert "confirmed by Celery" in report["res"]["msg"]
    assert report["host"] != primary()


def test_the_site_job_changes_nothing_on_the_converged_lab(launch):
    # For real, limited (AWX's limit field) to a host of three tiers: test_check_mode runs the whole of site.yml
    # in check mode already.
    job = launch("webstack site", 103, limit="lb1,app1,cache1")
    assert job["status"] == "successful", awxjob.failure_messages(job["events"])
    recap = awxjob.recap(job["events"])
    assert set(recap) == {"lb1", "app1", "cache1"}
    assert awx_unclean(recap) == {}
    assert {host: counts["changed"] for host, counts in recap.items() if counts["changed"]} == {}


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


def test_a_release_that_does_not_exist_fails_in_the_deploy_jobs_own_checks_before_any_change(launch):
    job = launch("webstack deploy", 111, answers={"deploy_version": "9.9.9"})
    assert_awx_refused(job, "9.9.9 cannot be installed: no wheel")
