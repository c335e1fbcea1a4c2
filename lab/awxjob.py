# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWX's rules and AWX's job layout, without AWX (which needs Kubernetes and registry images: not here).

Ported from AWX 24 (github.com/ansible/awx, awx/api/views/__init__.py `_validate_spec_data`,
awx/main/models/mixins.py `_survey_element_validation` and `_update_unified_job_kwargs`, awx/main/utils/ansible.py
`skip_directory` and `could_be_playbook`, awx/main/tasks/jobs.py `build_private_data_dir`, `build_args`,
`build_env`, `write_inventory_file`, awx/main/tasks/receptor.py): the checks of tests/unit/awx, and the job that
tests/lab/test_awx_jobs.py and test_awx_data_jobs.py run through `ansible-runner` transmit | worker | process as
AWX's receptor does.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

# awx/main/constants.py
SURVEY_TYPE_MAPPING: dict[str, tuple[type, ...]] = {
    "text": (str,),
    "textarea": (str,),
    "password": (str,),
    "multiplechoice": (str,),
    "multiselect": (str,),
    "integer": (int,),
    "float": (float, int),
}
JOB_VARIABLE_PREFIXES = ("awx", "tower")
# awx/main/tasks/jobs.py, RunJob.build_env: what AWX puts after the job's own requirements_* folders
COLLECTIONS_PATH = "~/.ansible/collections:/usr/share/ansible/collections"
ROLES_PATH = "~/.ansible/roles:/usr/share/ansible/roles:/etc/ansible/roles"

# awx/main/utils/ansible.py
VALID_PLAYBOOK = re.compile(
    r"^\s*?-?\s*?(?:hosts|(ansible\.builtin\.)?include|(ansible\.builtin\.)?import_playbook):\s*?.*?$"
)


# ------------------------------------------------------------------ the project: which playbooks AWX lists


def build_collection(repo: Path, dist: Path) -> Path:
    """The collection built from a checkout into dist, as `./dev build` builds it; the tarball's path."""
    subprocess.run(
        ["ansible-galaxy", "collection", "build", "--output-path", str(dist), str(repo)],
        check=True,
        capture_output=True,
    )
    return next(dist.glob("*.tar.gz"))


def skip_directory(relative_directory: str) -> bool:
    """Whether AWX's project scan skips a directory (roles, tasks, dot folders, group_vars, host_vars)."""
    elements = relative_directory.split(os.sep)
    if "roles" in elements or "tasks" in elements:
        return True
    if any(element.startswith(".") for element in elements):
        return True
    return "group_vars" in elements or "host_vars" in elements


def could_be_playbook(path: Path) -> bool:
    """Whether AWX takes a file for a playbook: .yml/.yaml with a `hosts:`/import line or vault-encrypted."""
    if path.suffix not in (".yml", ".yaml"):
        return False
    with path.open(encoding="utf-8", errors="ignore") as lines:
        for number, line in enumerate(lines):
            if VALID_PLAYBOOK.match(line) or (number == 0 and line.startswith("$ANSIBLE_VAULT;")):
                return True
    return False


def project_playbooks(root: Path, files: list[str]) -> list[str]:
    """The playbooks AWX lists for a project holding `files` (paths relative to `root`), sorted as AWX sorts them.

    AWX walks the checkout; `files` (what git tracks) stands for the checkout, so that a local .venv or .cache is
    not scanned. AWX applies skip_directory to the walked path; here to the path inside the project.
    """
    found = []
    for name in files:
        relative = Path(name)
        if skip_directory(str(relative.parent)):
            continue
        if could_be_playbook(root / relative):
            found.append(name)
    return sorted(found, key=str.lower)


# ------------------------------------------------------------------ surveys


def choice_list(element: dict[str, Any]) -> list[str]:
    choices = element.get("choices", [])
    if isinstance(choices, str):
        return [choice for choice in choices.splitlines() if choice.strip() != ""]
    return list(choices)


def spec_errors(survey_spec: dict[str, Any]) -> list[str]:
    """What AWX's API refuses when the survey is saved (it stops at the first; all of them here)."""
    errors = []
    for field, expected in (("name", str), ("description", str), ("spec", list)):
        if field not in survey_spec:
            errors.append(f"Field '{field}' is missing from survey spec.")
        elif not isinstance(survey_spec[field], expected):
            errors.append(f"Expected {expected.__name__} for field '{field}'.")
    if errors:
        return errors
    if not survey_spec["spec"]:
        return ["'spec' doesn't contain any items."]
    variables = set()
    for index, item in enumerate(survey_spec["spec"]):
        if not isinstance(item, dict):
            errors.append(f"Survey question {index} is not a json object.")
            continue
        missing = [name for name in ("type", "question_name", "variable", "required") if name not in item]
        if missing:
            errors.append(f"'{missing[0]}' missing from survey question {index}")
            continue
        for name in ("type", "question_name", "variable"):
            if not isinstance(item[name], str):
                errors.append(f"'{name}' in survey question {index} expected to be string.")
        if not isinstance(item["required"], bool):
            errors.append(f"'required' in survey question {index} expected to be boolean.")
        if item["variable"] in variables:
            errors.append(f"'variable' '{item['variable']}' duplicated in survey question {index}.")
        variables.add(item["variable"])
        kind = item["type"]
        if kind not in SURVEY_TYPE_MAPPING:
            errors.append(f"'{kind}' in survey question {index} is not one of the allowed question types.")
            continue
        if "default" in item and item["default"] != "" and not isinstance(item["default"], SURVEY_TYPE_MAPPING[kind]):
            errors.append(f"Default value {item['default']} in survey question {index} expected to be {kind}.")
        for limit in ("min", "max"):
            if item.get(limit) is not None and (not isinstance(item[limit], int) or isinstance(item[limit], bool)):
                errors.append(f"The {limit} limit in survey question {index} expected to be integer.")
        if kind in ("multiplechoice", "multiselect"):
            if "choices" not in item:
                errors.append(f"Survey question {index} of type {kind} must specify choices.")
                continue
            choices = choice_list(item)
            if "default" in item:
                default = item["default"]
                defaults = (
                    [line for line in default.splitlines() if line.strip()] if isinstance(default, str) else default
                )
                if kind == "multiplechoice" and len(defaults) > 1:
                    errors.append("Multiple Choice (Single Select) can only have one default value.")
                if any(value not in choices for value in defaults):
                    errors.append("Default choice must be answered from the choices listed.")
        if isinstance(item.get("default"), str) and item["default"].startswith("$encrypted$") and kind != "password":
            errors.append(f"$encrypted$ is a reserved keyword for password question defaults, survey question {index}.")
    return errors


def answer_errors(element: dict[str, Any], data: dict[str, Any], validate_required: bool = True) -> list[str]:
    """AWX's validation of one answer (a launch's, or a default: AWX drops a default that fails this)."""
    variable, kind = element["variable"], element["type"]
    if variable not in data:
        return [f"'{variable}' value missing"] if element["required"] and validate_required else []
    value = data[variable]
    minimum, maximum = element.get("min"), element.get("max")
    minimum = None if minimum in ("", None) else minimum
    maximum = None if maximum in ("", None) else maximum
    errors = []
    if kind in ("text", "textarea", "password"):
        if not isinstance(value, str):
            return [f"Value {value} for '{variable}' expected to be a string."]
        if minimum is not None and len(value) < int(minimum):
            errors.append(
                f"'{variable}' value {value} is too small (length is {len(value)} must be at least {minimum})."
            )
        if maximum is not None and len(value) > int(maximum):
            errors.append(f"'{variable}' value {value} is too large (must be no more than {maximum}).")
    elif kind in ("integer", "float"):
        # AWX compares types exactly: True is no integer, and a float question takes int or float.
        allowed = (int,) if kind == "integer" else (float, int)
        if type(value) not in allowed:
            return [
                f"Value {value} for '{variable}' expected to be {'an integer' if kind == 'integer' else 'numeric'}."
            ]
        convert = int if kind == "integer" else float
        if minimum is not None and value < convert(minimum):
            errors.append(f"'{variable}' value {value} is too small (must be at least {minimum}).")
        if maximum is not None and value > convert(maximum):
            errors.append(f"'{variable}' value {value} is too large (must be no more than {maximum}).")
    elif kind == "multiselect":
        if not isinstance(value, list):
            return [f"'{variable}' value is expected to be a list."]
        errors += [
            f"Value {item} for '{variable}' expected to be one of {choice_list(element)}."
            for item in value
            if item not in choice_list(element)
        ]
    elif kind == "multiplechoice" and value not in choice_list(element):
        errors.append(f"Value {value} for '{variable}' expected to be one of {choice_list(element)}.")
    return errors


def survey_questions(template: dict[str, Any]) -> list[dict[str, Any]]:
    if not template.get("survey_enabled"):
        return []
    return template.get("survey_spec", {}).get("spec", [])


def survey_defaults(template: dict[str, Any]) -> dict[str, Any]:
    """The defaults AWX puts into a launch's extra vars: only those that pass their own question's validation."""
    defaults = {}
    for element in survey_questions(template):
        if element.get("default") is not None and not answer_errors(element, {element["variable"]: element["default"]}):
            defaults[element["variable"]] = element["default"]
    return defaults


def launch_extra_vars(template: dict[str, Any], answers: dict[str, Any] | None = None) -> dict[str, Any]:
    """Template extra vars, then survey defaults, then the launch's answers (AWX's precedence)."""
    extra_vars = dict(template.get("extra_vars") or {})
    extra_vars.update(survey_defaults(template))
    extra_vars.update(answers or {})
    return extra_vars


def launch_errors(template: dict[str, Any], answers: dict[str, Any] | None = None) -> list[str]:
    """What AWX refuses at launch: every question validated against the launch's variables."""
    extra_vars = launch_extra_vars(template, answers)
    return [error for element in survey_questions(template) for error in answer_errors(element, extra_vars)]


# ------------------------------------------------------------------ the job, as AWX lays it out


def meta_vars(
    job_id: int, template: dict[str, Any], inventory_name: str, revision: str, sliced: bool = False
) -> dict[str, Any]:
    """The awx_* / tower_* variables AWX adds to a job a user launched (Job.awx_meta_vars).

    A slice of a sliced job is launched by a workflow job that AWX names after the job template.
    """
    values: dict[str, Any] = {
        "job_id": job_id,
        "job_launch_type": "workflow" if sliced else "manual",
        "user_id": 1,
        "user_name": "admin",
        "user_email": "",
        "user_first_name": "",
        "user_last_name": "",
        "inventory_id": 1,
        "inventory_name": inventory_name,
        "project_revision": revision,
        "project_scm_branch": "main",
        "job_template_id": job_id,
        "job_template_name": template["name"],
        "execution_node": "localhost",
    }
    if sliced:
        values |= {
            "workflow_job_id": job_id - 1,
            "workflow_job_name": template["name"],
            "workflow_job_launch_type": "manual",
        }
    return {f"{prefix}_{name}": value for prefix in JOB_VARIABLE_PREFIXES for name, value in values.items()}


class _UnsafeStringDumper(yaml.SafeDumper):
    """awx/main/utils/safe_yaml.py: every string of a launch's variables is written `!unsafe`."""

    def represent_data(self, data: Any) -> Any:
        if isinstance(data, str):
            return self.represent_scalar("!unsafe", data)
        return super().represent_data(data)


def extravars_yaml(variables: dict[str, Any], trusted: dict[str, Any]) -> str:
    """AWX's safe_dump: keys whose value equals the template's own extra vars stay templatable, the rest unsafe."""
    parts = []
    for key, value in variables.items():
        dumper = yaml.SafeDumper if key in trusted and trusted[key] == value else _UnsafeStringDumper
        parts.append(yaml.dump_all([{key: value}], None, Dumper=dumper, default_flow_style=False))
    return "".join(parts)


def inventory_script(data: dict[str, Any]) -> str:
    """The executable inventory AWX writes to inventory/hosts (RunJob.write_inventory_file)."""
    return f"#! /usr/bin/env python3\n# -*- coding: utf-8 -*-\nprint({json.dumps(data)!r})\n"


def job_args(
    check: bool = False,
    limit: str = "",
    diff: bool = False,
    forks: int = 0,
    verbosity: int = 0,
    ssh_user: str = "",
) -> list[str]:
    """RunJob.build_args: the SSH user is the Machine credential's username, root for a job without one."""
    args = ["--check"] if check else []
    args += ["-u", ssh_user or "root"]
    if limit:
        args += ["-l", limit]
    if diff:
        args.append("--diff")
    if forks:
        args.append(f"--forks={forks}")
    if verbosity:
        args.append("-" + "v" * min(5, verbosity))
    return args


def job_env(job_id: int, runner_root: str, revision: str) -> dict[str, str]:
    """RunJob.build_env: what AWX sets for ansible-playbook (runner_root is /runner inside an EE)."""
    collections = f"{runner_root}/requirements_collections:{COLLECTIONS_PATH}"
    return {
        "JOB_ID": str(job_id),
        "INVENTORY_ID": "1",
        "PROJECT_REVISION": revision,
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "MAX_EVENT_RES": "700000",
        "AWX_HOST": "https://awx.invalid",
        "ANSIBLE_SSH_CONTROL_PATH_DIR": f"{runner_root}/cp",
        # awx/settings/defaults.py
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_PARAMIKO_RECORD_HOST_KEYS": "False",
        "ANSIBLE_FORCE_COLOR": "True",
        "ANSIBLE_COLLECTIONS_PATH": collections,
        "ANSIBLE_ROLES_PATH": f"{runner_root}/requirements_roles:{ROLES_PATH}",
        "AWX_PRIVATE_DATA_DIR": runner_root,
    }


def write_private_data_dir(
    private: Path,
    *,
    project: Path,
    project_files: list[str],
    collection_tarball: Path,
    inventory: dict[str, Any],
    template: dict[str, Any],
    answers: dict[str, Any] | None,
    job_id: int,
    revision: str,
    check: bool = False,
    limit: str = "",
    sliced: bool = False,
    ssh_user: str = "",
) -> None:
    """Lay out a private data directory as AWX does before it hands the job to ansible-runner."""
    private.mkdir(mode=0o700, parents=True)
    for sub in ("inventory", "env", "artifacts"):
        (private / sub).mkdir()
    (private / "cp").mkdir(mode=0o700)
    # project/: the checkout, as the project sync left it
    for name in project_files:
        source, target = project / name, private / "project" / name
        if source.is_symlink() or source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target, follow_symlinks=False)
    # requirements_collections/: where AWX puts what the project sync installed from collections/requirements.yml
    subprocess.run(
        [
            "ansible-galaxy",
            "collection",
            "install",
            "--no-deps",
            # even when the collection is on the configured path already (a checkout's link)
            "--force",
            "-p",
            str(private / "requirements_collections"),
            str(collection_tarball),
        ],
        check=True,
        capture_output=True,
    )
    script = private / "inventory" / "hosts"
    script.write_text(inventory_script(inventory))
    script.chmod(stat.S_IRWXU)
    variables = launch_extra_vars(template, answers)
    variables.update(meta_vars(job_id, template, "webstack", revision, sliced))
    (private / "env" / "extravars").write_text(extravars_yaml(variables, dict(template.get("extra_vars") or {})))
    from ansible_runner.utils import args2cmdline

    (private / "env" / "cmdline").write_text(args2cmdline(*job_args(check=check, limit=limit, ssh_user=ssh_user)))
    settings = {"job_timeout": 0, "suppress_ansible_output": True, "suppress_output_file": True}
    (private / "env" / "settings").write_text(json.dumps(settings))
    for path in (private / "env").iterdir():
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)


def run_job(
    private: Path,
    worker: Path,
    *,
    playbook: str,
    job_id: int,
    envvars: dict[str, str],
    container_image: str | None = None,
) -> dict[str, Any]:
    """transmit | worker | process, as AWX's receptor runs a job on an execution node; the job's outcome.

    transmit and process through ansible_runner's Python interface (what AWX calls), the worker as the
    `ansible-runner worker` command the execution node runs, with a private data directory of its own. With a
    container image the worker runs ansible-playbook in it, the private data directory mounted at /runner
    (BaseTask.build_execution_environment_params).
    """
    import ansible_runner

    runner_params: dict[str, Any] = {
        "ident": job_id,
        "private_data_dir": str(private),
        "playbook": playbook,
        "envvars": envvars,
        "suppress_env_files": True,
    }
    if container_image:
        runner_params |= {
            "process_isolation": True,
            "process_isolation_executable": "podman",
            "container_image": container_image,
            "container_options": ["--user=root"],
        }
    transmitted = private.parent / f"job-{job_id}.transmit"
    results = private.parent / f"job-{job_id}.results"
    with transmitted.open("wb") as stream:
        ansible_runner.interface.run(streamer="transmit", _output=stream, **runner_params)
    with transmitted.open("rb") as stream_in, results.open("wb") as stream_out:
        worked = subprocess.run(
            [
                str(Path(sys.executable).parent / "ansible-runner"),
                "worker",
                "--delete",
                "--private-data-dir",
                str(worker),
            ],
            stdin=stream_in,
            stdout=stream_out,
            stderr=subprocess.PIPE,
            check=False,
            # an execution node's environment: none of the caller's Ansible settings (ANSIBLE_CONFIG of the lab)
            env={name: value for name, value in os.environ.items() if not name.startswith("ANSIBLE_")},
        )
    events: list[dict[str, Any]] = []
    with results.open("rb") as stream:
        runner = ansible_runner.interface.run(
            streamer="process",
            quiet=True,
            _input=stream,
            event_handler=lambda event: events.append(event) or True,
            **runner_params,
        )
    return {
        "status": runner.status,
        "rc": runner.rc,
        "events": events,
        "worker_rc": worked.returncode,
        "worker_stderr": worked.stderr.decode(errors="replace"),
        "stdout": "\n".join(event.get("stdout", "") for event in events if event.get("stdout")),
    }


def recap(events: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """The play recap of a job's events (the playbook_on_stats event), host by host."""
    stats = next(event["event_data"] for event in events if event.get("event") == "playbook_on_stats")
    keys = ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored")
    hosts = set().union(*(stats.get(key) or {} for key in keys))
    return {host: {key: (stats.get(key) or {}).get(host, 0) for key in keys} for host in hosts}


def git(project: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=project, capture_output=True, text=True, check=True).stdout


def launch(
    template: dict[str, Any],
    *,
    project: Path,
    collection_tarball: Path,
    inventory: dict[str, Any],
    base: Path,
    job_id: int,
    answers: dict[str, Any] | None = None,
    check: bool = False,
    limit: str = "",
    sliced: bool = False,
    extra_files: dict[str, str] | None = None,
    container_image: str | None = None,
    ssh_user: str = "",
) -> dict[str, Any]:
    """Launch a job template as AWX would: refuse bad answers, lay out the job, run it on a worker; its outcome.

    extra_files (path in the project: content) are added to the project's copy, as if the checkout held them.
    limit: the job's host pattern (the template's or the launch's limit), as `-l` on the command line.
    container_image: an execution environment the job runs in (else the worker's own ansible-playbook).
    ssh_user: the username of the job's Machine credential (AWX logs in as root when there is none).
    """
    refused = launch_errors(template, answers)
    if refused:
        raise ValueError("AWX refuses the launch: " + "; ".join(refused))
    revision = git(project, "rev-parse", "HEAD").strip()
    private = base / f"awx_{job_id}_private"
    # The worker's own directory, short as AWX's /runner: ssh's control sockets live in its cp/ (ControlPersist),
    # and a socket's path must stay under 108 bytes. The worker deletes it when the job ends.
    worker = Path(tempfile.mkdtemp(prefix=f"awx_{job_id}_", dir="/tmp"))
    write_private_data_dir(
        private,
        project=project,
        project_files=git(project, "ls-files", "-co", "--exclude-standard").splitlines(),
        collection_tarball=collection_tarball,
        inventory=inventory,
        template=template,
        answers=answers,
        job_id=job_id,
        revision=revision,
        check=check,
        limit=limit,
        sliced=sliced,
        ssh_user=ssh_user,
    )
    for name, content in (extra_files or {}).items():
        (private / "project" / name).write_text(content)
    runner_root = "/runner" if container_image else str(worker)
    return run_job(
        private,
        worker,
        playbook=template["playbook"],
        job_id=job_id,
        envvars=job_env(job_id, runner_root, revision),
        container_image=container_image,
    )


def failure_messages(events: list[dict[str, Any]]) -> list[str]:
    """The message of each failed task of a job, on one line (as AWX shows it in the job's event detail)."""
    return [
        " ".join(str(event["event_data"]["res"].get("msg", "")).split())
        for event in events
        if event.get("event") == "runner_on_failed"
    ]
