"""The job templates of awx/controller.yml run against the lab as AWX runs them.

Each job is laid out as AWX lays it out (lab/awxjob.py: env/extravars with the survey's defaults and the awx_*
variables, env/cmdline, an executable inventory script, project/ as a copy of the repository, the collection in
requirements_collections) and runs through ansible-runner transmit | worker | process; its events are read back.
The inventory is the lab's, exported as AWX would import it, with the paths it takes from its own directory made
absolute (an imported inventory has no directory). Only read-only or reversible jobs run: the stack check and the
nightly backup check, the site (limited) and the lab tests' restore drill for real, switchover as a check job, and
answers the playbooks refuse before any change.
"""

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import LAB_PARTS, on_host, pg_version, pools_paused, primary, psql

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): runs the site job, a backup, a restore drill
# and a switchover check.
LAB_USES = dict.fromkeys(LAB_PARTS, "exclusive")

REPO = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("awxjob", REPO / "lab" / "awxjob.py")
awxjob = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(awxjob)

CONTROLLER = yaml.safe_load((REPO / "awx" / "controller.yml").read_text())
TEMPLATES = {template["name"]: template for template in CONTROLLER["controller_templates"]}
SCHEDULES = {schedule["name"]: schedule for schedule in CONTROLLER["controller_schedules"]}
PROBE = "webstack_drill_probe"


@pytest.fixture(scope="module")
def inventory():
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "lab" / "ansible.cfg")}
    exported = subprocess.run(
        ["ansible-inventory", "--list", "--export"], cwd=REPO, env=env, capture_output=True, text=True, check=True
    ).stdout
    exported = exported.replace("{{ inventory_dir }}/../..", str(REPO))
    assert "inventory_dir" not in exported
    return json.loads(exported)


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    return awxjob.build_collection(REPO, tmp_path_factory.mktemp("dist"))


@pytest.fixture
def launch(tmp_path, tarball, inventory):
    def run(name, job_id, **kwargs):
        return awxjob.launch(
            TEMPLATES[name],
            project=REPO,
            collection_tarball=tarball,
            inventory=inventory,
            base=tmp_path,
            job_id=job_id,
            # the lab's Machine credential: the hosts' admin user (root has no SSH login there)
            ssh_user="admin",
            **kwargs,
        )

    return run


def results(job, event, task):
    return [e["event_data"] for e in job["events"] if e.get("event") == event and e["event_data"]["task"] == task]


def clean(recap):
    """Hosts that failed or were unreachable (none, for a clean job)."""
    return {host: counts for host, counts in recap.items() if counts["failures"] or counts["dark"]}


def test_the_stack_check_job_places_an_order_and_reads_it_on_a_replica(launch):
    job = launch("webstack stack check", 101)
    assert job["status"] == "successful", awxjob.failure_messages(job["events"])
    recap = awxjob.recap(job["events"])
    assert clean(recap) == {}
    (report,) = results(job, "runner_on_ok", "Report the check")
    assert "confirmed by Celery" in report["res"]["msg"]
    assert report["host"] != primary()


def test_the_nightly_backup_check_job_backs_up_checks_and_lists_the_backups(launch):
    schedule = SCHEDULES["webstack nightly backup check"]
    job = launch(schedule["unified_job_template"], 102, answers=schedule["extra_data"])
    assert job["status"] == "successful", awxjob.failure_messages(job["events"])
    assert clean(awxjob.recap(job["events"])) == {}
    (checked,) = results(job, "runner_on_ok", "Check that WAL reaches the repository")
    # the include_role task of the same name reports too: the table is the debug task's list of lines
    (table,) = [r for r in results(job, "runner_on_ok", "Show the backups") if isinstance(r["res"].get("msg"), list)]
    assert checked["host"] == table["host"] == primary()
    # the table: stanza line, header, one line per backup, archive line; the job's backup is the newest
    backups = [line.split() for line in table["res"]["msg"][2:-1]]
    # pgBackRest takes a full backup when asked for an incremental one on a stanza with none yet (a fresh lab)
    assert backups[-1][1] == "incr" or (len(backups) == 1 and backups[-1][1] == "full"), table["res"]["msg"]


def test_the_site_job_changes_nothing_on_the_converged_lab(launch):
    # For real, limited (AWX's limit field) to a host of three tiers: test_check_mode runs the whole of site.yml
    # in check mode already.
    job = launch("webstack site", 103, limit="lb1,app1,cache1")
    assert job["status"] == "successful", awxjob.failure_messages(job["events"])
    recap = awxjob.recap(job["events"])
    assert set(recap) == {"lb1", "app1", "cache1"}
    assert clean(recap) == {}
    assert {host: counts["changed"] for host, counts in recap.items() if counts["changed"]} == {}


def test_the_dr_drill_job_restores_every_table_at_its_restore_point_and_reports_rto_and_rpo(launch):
    """The lab's one restore drill (test_dr_drill has the failover drill and the refusals): run as AWX runs it."""
    host = primary()
    psql(host, f"DROP TABLE IF EXISTS {PROBE}; CREATE TABLE {PROBE} (id int PRIMARY KEY, note text)")
    psql(host, f"INSERT INTO {PROBE} SELECT n, md5(n::text) FROM generate_series(1, 500) AS n")

    job = launch("webstack DR drill", 105)
    assert job["status"] == "successful", awxjob.failure_messages(job["events"])
    assert clean(awxjob.recap(job["events"])) == {}
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
    assert clean(awxjob.recap(job["events"])) == {}
    (plan,) = results(job, "runner_on_ok", "Report the plan (check mode)")
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
