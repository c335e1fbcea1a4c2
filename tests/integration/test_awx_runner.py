"""A job template runs through ansible-runner transmit | worker | process in AWX's job layout (lab/awxjob.py).

Against this machine only (connection local): the layout's plumbing, the slice refusal and a playbook's own
pre-checks. tests/lab/test_awx_jobs.py and test_awx_data_jobs.py run the templates against the lab.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("awxjob", REPO / "lab" / "awxjob.py")
awxjob = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(awxjob)

TEMPLATES = {
    t["name"]: t for t in yaml.safe_load((REPO / "awx" / "controller.yml").read_text())["controller_templates"]
}
LOCAL = {"ansible_connection": "local", "ansible_become": False, "ansible_python_interpreter": sys.executable}
# The groups switchover.yml and deploy.yml work on, every host this machine.
INVENTORY = {
    "all": {"children": ["postgres", "pgbouncer", "app", "celery", "nginx"]},
    "postgres": {"hosts": ["db1", "db2"]},
    "pgbouncer": {"hosts": ["app1"]},
    "app": {"hosts": ["app1"]},
    "celery": {"hosts": ["worker1"]},
    "nginx": {"hosts": ["lb1"]},
    "_meta": {"hostvars": {host: dict(LOCAL) for host in ("db1", "db2", "app1", "worker1", "lb1")}},
}
PROBE = """---
- name: Read what the job was given
  hosts: db1
  gather_facts: false
  tasks:
    - name: Report the job's configuration, collection, template and survey answer
      ansible.builtin.debug:
        msg:
          config: "{{ ansible_config_file }}"
          collections_path: "{{ lookup('ansible.builtin.config', 'COLLECTIONS_PATHS') | first }}"
          slot: "{{ ['db-1.example'] | opsforge.webstack.slot_name | first }}"
          template: "{{ awx_job_template_name }}"
          switchover_max_lag_bytes: "{{ switchover_max_lag_bytes }}"
"""
# The execution environment ee/ builds (README, "AWX and Automation Platform"); its test runs where it was built.
EE_IMAGE = "localhost/opsforge-webstack-ee:0.1.0"


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    return awxjob.build_collection(REPO, tmp_path_factory.mktemp("dist"))


@pytest.fixture
def launch(tmp_path, tarball):
    def run(name, job_id, **kwargs):
        template = kwargs.pop("template", None) or TEMPLATES[name]
        return awxjob.launch(
            template,
            project=REPO,
            collection_tarball=tarball,
            inventory=kwargs.pop("inventory", INVENTORY),
            base=tmp_path,
            job_id=job_id,
            **kwargs,
        )

    return run


def failed_tasks(job):
    return [event["event_data"]["task"] for event in job["events"] if event.get("event") == "runner_on_failed"]


def test_a_job_gets_the_project_configuration_its_collection_and_its_survey_defaults(launch, tmp_path):
    probe = dict(TEMPLATES["webstack switchover"], playbook="probe.yml")
    job = launch(None, 7, template=probe, extra_files={"probe.yml": PROBE})
    assert job["status"] == "successful", job["stdout"] + job["worker_stderr"]
    (reported,) = [e["event_data"]["res"]["msg"] for e in job["events"] if e.get("event") == "runner_on_ok"]
    worker = Path(reported["config"]).parents[1]
    assert worker.name.startswith("awx_7_") and not worker.exists()
    assert reported == {
        "config": str(worker / "project" / "ansible.cfg"),
        "collections_path": str(worker / "requirements_collections"),
        "slot": "db_1_example",
        "template": "webstack switchover",
        "switchover_max_lag_bytes": 16777216,
    }
    assert awxjob.recap(job["events"]) == {
        "db1": {"ok": 1, "changed": 0, "failures": 0, "dark": 0, "skipped": 0, "rescued": 0, "ignored": 0}
    }
    # what AWX left for ansible-runner: the layout, the launch's variables written unsafe
    private = tmp_path / "awx_7_private"
    assert (private / "inventory" / "hosts").stat().st_mode & 0o777 == 0o700
    assert "!unsafe 'webstack switchover'" in (private / "env" / "extravars").read_text()
    assert (private / "env" / "cmdline").read_text() == "-u root"


def test_the_execution_environment_runs_a_job_as_awx_does(launch):
    present = subprocess.run(["podman", "image", "exists", EE_IMAGE], check=False).returncode == 0
    if not present:
        pytest.skip(
            f"{EE_IMAGE} is not built here: ./dev build && ansible-builder build -f ee/execution-environment.yml"
        )
    probe = dict(TEMPLATES["webstack switchover"], playbook="probe.yml")
    inventory = {"all": {"hosts": ["db1"]}, "_meta": {"hostvars": {"db1": dict(LOCAL)}}}
    inventory["_meta"]["hostvars"]["db1"]["ansible_python_interpreter"] = "/usr/bin/python3"
    job = launch(
        None, 8, template=probe, extra_files={"probe.yml": PROBE}, inventory=inventory, container_image=EE_IMAGE
    )
    assert job["status"] == "successful", job["stdout"] + job["worker_stderr"]
    (reported,) = [e["event_data"]["res"]["msg"] for e in job["events"] if e.get("event") == "runner_on_ok"]
    assert reported["config"] == "/runner/project/ansible.cfg"
    assert reported["collections_path"] == "/runner/requirements_collections"
    assert reported["slot"] == "db_1_example"


@pytest.mark.parametrize("name", ["webstack switchover", "webstack deploy", "webstack site"])
def test_a_slice_of_a_sliced_job_is_refused_before_anything_else(launch, name):
    job = launch(name, 11, sliced=True, answers={"deploy_version": "1.0.1"} if "deploy" in name else None)
    assert job["status"] == "failed"
    assert set(failed_tasks(job)) == {"Refuse to run as a slice of a sliced job"}
    assert any("is one slice of a sliced job" in message for message in awxjob.failure_messages(job["events"]))
    # only the facts were read (site and deploy gather them first)
    assert {e["event_data"]["task"] for e in job["events"] if e.get("event") == "runner_on_ok"} <= {"Gathering Facts"}


def test_a_manual_launch_passes_the_slice_check_and_meets_the_playbooks_own_checks(launch):
    job = launch("webstack switchover", 12)
    assert job["status"] == "failed"
    assert failed_tasks(job) == ["Check the switchover's inputs"]
    assert any(
        "A switchover needs at least two members" in message for message in awxjob.failure_messages(job["events"])
    )


def test_a_release_name_the_survey_accepts_but_the_playbook_does_not_is_refused_before_any_change(launch):
    job = launch("webstack deploy", 13, answers={"deploy_version": "latest; rm -rf /"})
    assert job["status"] == "failed"
    assert set(failed_tasks(job)) == {"Check that a version was asked for"}
    assert any(
        "Give the release to deploy as -e deploy_version=" in message
        for message in awxjob.failure_messages(job["events"])
    )
    assert not [e for e in job["events"] if e.get("event_data", {}).get("res", {}).get("changed")]


def test_awx_refuses_a_launch_whose_answers_break_the_survey(launch):
    with pytest.raises(ValueError, match="expected to be one of"):
        launch("webstack backup", 14, answers={"backup_type": "nightly"})
