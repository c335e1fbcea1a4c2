"""The job templates, surveys and schedules of awx/controller.yml hold by AWX's own rules and by the playbooks."""

import importlib.util
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from dateutil.rrule import rrulestr

REPO = Path(__file__).resolve().parents[3]
SPEC = importlib.util.spec_from_file_location("awxjob", REPO / "lab" / "awxjob.py")
awxjob = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(awxjob)

CONTROLLER = yaml.safe_load((REPO / "awx" / "controller.yml").read_text())
TEMPLATES = CONTROLLER["controller_templates"]
SCHEDULES = CONTROLLER["controller_schedules"]
# Playbooks that decide or render from whole groups, and refuse to run as a slice of a sliced job.
REFUSE_SLICES = {
    "playbooks/site.yml",
    "playbooks/deploy.yml",
    "playbooks/switchover.yml",
    "playbooks/failover.yml",
    "playbooks/dr_drill.yml",
    "playbooks/ha_mode.yml",
}


def by_name(name):
    return next(template for template in TEMPLATES if template["name"] == name)


def template_ids(template):
    return template["name"]


def project_files():
    """What a checkout holds: the files git tracks, and new ones it does not ignore."""
    listing = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True, check=True
    )
    return [name for name in listing.stdout.splitlines() if (REPO / name).is_file()]


def header(playbook):
    """The comment block a playbook starts with: its documentation."""
    lines = (REPO / playbook).read_text().splitlines()
    return "\n".join(line for line in lines[: next(i for i, line in enumerate(lines) if line.startswith("- "))])


def code_of(playbook):
    """The playbook and every task file of the collection (where its inputs are checked and used)."""
    files = [REPO / playbook, *sorted((REPO / "playbooks" / "tasks").glob("*.yml"))]
    files += sorted((REPO / "playbooks" / "vars").glob("*.yml"))
    files += sorted((REPO / "roles").glob("*/tasks/*.yml"))
    return "\n".join(path.read_text() for path in files)


def required_inputs(playbook):
    """Variables the playbook asserts are defined (its required inputs)."""
    return set(re.findall(r"-\s+(\w+) is defined", (REPO / playbook).read_text()))


# ------------------------------------------------------------------ the project


def test_every_template_runs_a_playbook_awx_lists():
    listed = awxjob.project_playbooks(REPO, project_files())
    assert {template["playbook"] for template in TEMPLATES} <= set(listed)


def test_awx_lists_the_operating_playbooks_and_not_their_task_files():
    """AWX also lists what merely holds `hosts:` (molecule's playbooks, lab/summary.yml, YAML inventories)."""
    listed = awxjob.project_playbooks(REPO, project_files())
    playbooks = sorted(str(path.relative_to(REPO)) for path in (REPO / "playbooks").glob("*.yml"))
    assert set(playbooks) <= set(listed)
    assert "awx/configure.yml" in listed
    assert not [name for name in listed if "/tasks/" in name or name.startswith("roles/")]


def test_every_operating_playbook_has_a_template():
    playbooks = {str(path.relative_to(REPO)) for path in (REPO / "playbooks").glob("*.yml")}
    assert playbooks - {template["playbook"] for template in TEMPLATES} == set(), (
        "add a job template to awx/controller.yml for each new playbook (README, AWX and Automation Platform)"
    )


def test_the_project_names_its_collection_for_awx_project_sync():
    requirements = yaml.safe_load((REPO / "collections" / "requirements.yml").read_text())
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    (entry,) = requirements["collections"]
    assert entry["type"] == "git"
    assert entry["name"].rstrip("/").removesuffix(".git") == galaxy["repository"]


# ------------------------------------------------------------------ surveys by AWX's rules


@pytest.mark.parametrize("template", [t for t in TEMPLATES if t.get("survey_enabled")], ids=template_ids)
def test_each_survey_is_valid_by_awx_rules(template):
    assert awxjob.spec_errors(template["survey_spec"]) == []


@pytest.mark.parametrize("template", [t for t in TEMPLATES if t.get("survey_enabled")], ids=template_ids)
def test_no_default_is_dropped_by_awx(template):
    """AWX silently drops a default that fails its own question's validation: the check refuses it here."""
    for question in awxjob.survey_questions(template):
        if "default" in question:
            assert awxjob.answer_errors(question, {question["variable"]: question["default"]}) == [], question


@pytest.mark.parametrize("template", TEMPLATES, ids=template_ids)
def test_a_launch_needs_only_what_the_survey_says_is_required(template):
    required = {q["variable"]: q for q in awxjob.survey_questions(template) if q["required"] and "default" not in q}
    errors = awxjob.launch_errors(template, {})
    assert len(errors) == len(required)


def test_an_unknown_drill_kind_is_refused_at_launch():
    # AWX refuses an answer outside a multiple choice question's choices; the playbook checks again
    # (tests/lab/test_dr_drill_preflight.py) for a value that comes another way (extra variables).
    errors = awxjob.launch_errors(by_name("webstack DR drill"), {"drill_kind": "meteor"})
    assert len(errors) == 1 and "meteor" in errors[0], errors


@pytest.mark.parametrize(
    ("question", "answer", "message"),
    [
        ({"type": "text", "min": 1, "max": 8}, "", "too small"),
        ({"type": "text", "min": 1, "max": 8}, "123456789", "too large"),
        ({"type": "text"}, 5, "expected to be a string"),
        ({"type": "integer", "min": 0, "max": 10}, 11, "too large"),
        ({"type": "integer"}, "5", "expected to be an integer"),
        ({"type": "integer"}, 5.0, "expected to be an integer"),
        ({"type": "float", "min": 0}, -0.5, "too small"),
        ({"type": "multiplechoice", "choices": ["full", "diff"]}, "incr", "expected to be one of"),
        ({"type": "multiplechoice", "choices": "full\ndiff\n"}, "incr", "expected to be one of"),
        ({"type": "multiselect", "choices": ["a", "b"]}, "a", "expected to be a list"),
    ],
)
def test_the_port_of_awx_answer_validation_refuses_what_awx_refuses(question, answer, message):
    element = {"variable": "v", "required": True, **question}
    assert any(message in error for error in awxjob.answer_errors(element, {"v": answer}))
    assert awxjob.answer_errors(element, {}) == ["'v' value missing"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"default": "nightly"}, "Default choice must be answered from the choices listed"),
        ({"default": "full\ndiff"}, "can only have one default value"),
        ({"type": "checkbox"}, "not one of the allowed question types"),
        ({"required": "yes"}, "expected to be boolean"),
        ({"min": "1"}, "expected to be integer"),
        ({"choices": None}, "Default choice must be answered"),
    ],
)
def test_the_port_of_awx_survey_validation_refuses_what_awx_refuses(change, message):
    question = {"question_name": "Kind", "variable": "kind", "type": "multiplechoice", "required": True}
    question |= {"choices": ["full", "diff"], "default": "full"} | change
    if question["choices"] is None:
        question["choices"] = []
    spec = {"name": "s", "description": "", "spec": [question]}
    assert any(message in error for error in awxjob.spec_errors(spec))


def test_a_survey_without_questions_or_with_a_duplicate_variable_is_refused():
    question = {"question_name": "q", "variable": "v", "type": "text", "required": False}
    assert awxjob.spec_errors({"name": "s", "description": "", "spec": []}) == ["'spec' doesn't contain any items."]
    assert "duplicated" in awxjob.spec_errors({"name": "s", "description": "", "spec": [question, question]})[0]


def test_a_default_awx_would_drop_does_not_reach_the_job():
    template = {
        "survey_enabled": True,
        "survey_spec": {"spec": [{"variable": "v", "type": "integer", "required": False, "default": 99, "max": 10}]},
    }
    assert awxjob.survey_defaults(template) == {}


# ------------------------------------------------------------------ surveys against the playbooks


@pytest.mark.parametrize("template", [t for t in TEMPLATES if t.get("survey_enabled")], ids=template_ids)
def test_every_survey_variable_is_a_documented_input_of_its_playbook(template):
    documentation, code = header(template["playbook"]), code_of(template["playbook"])
    for variable in (q["variable"] for q in awxjob.survey_questions(template)):
        assert re.search(rf"\b{variable}\b", documentation), f"{variable} is not in {template['playbook']}'s header"
        assert re.search(rf"\b{variable}\b", code), f"{variable} is used nowhere"


@pytest.mark.parametrize("template", [t for t in TEMPLATES if t.get("survey_enabled")], ids=template_ids)
def test_choices_are_what_the_playbook_accepts(template):
    """A multiple choice offers exactly the values the playbook's own check accepts (`var in [...]`)."""
    code = code_of(template["playbook"])
    for question in awxjob.survey_questions(template):
        if question["type"] != "multiplechoice":
            continue
        accepted = re.search(rf"\b_?{question['variable']} in \[([^\]]*)\]", code)
        if accepted:
            assert set(awxjob.choice_list(question)) == set(re.findall(r"'([^']*)'", accepted.group(1)))


# The survey question types that can carry a value of an argument spec's type.
QUESTION_TYPES = {
    "str": {"text", "textarea", "password", "multiplechoice"},
    "int": {"integer"},
    "float": {"float", "integer"},
    "list": {"multiselect"},
}


def role_options(playbook):
    """The argument spec options of every entry point of the roles the playbook applies."""
    options = {}
    for role in sorted(set(re.findall(r"opsforge\.webstack\.(\w+)", (REPO / playbook).read_text()))):
        specs = REPO / "roles" / role / "meta" / "argument_specs.yml"
        if specs.is_file():
            for entry in yaml.safe_load(specs.read_text())["argument_specs"].values():
                options.update(entry.get("options") or {})
    return options


@pytest.mark.parametrize("template", [t for t in TEMPLATES if t.get("survey_enabled")], ids=template_ids)
def test_a_question_for_a_role_option_has_its_type_default_and_choices(template):
    options = role_options(template["playbook"])
    for question in awxjob.survey_questions(template):
        option = options.get(question["variable"])
        if option is None:
            continue
        assert question["type"] in QUESTION_TYPES[option.get("type", "str")], question["variable"]
        if "default" in option and "default" in question:
            assert question["default"] == option["default"], question["variable"]
        if "choices" in option:
            assert awxjob.choice_list(question) == [str(choice) for choice in option["choices"]]


def test_the_switchover_survey_is_compared_with_the_roles_argument_specs():
    asked = {q["variable"] for q in awxjob.survey_questions(by_name("webstack switchover"))}
    assert asked <= set(role_options("playbooks/switchover.yml"))


@pytest.mark.parametrize("template", TEMPLATES, ids=template_ids)
def test_every_required_input_has_a_required_question_or_a_template_variable(template):
    asked = {q["variable"] for q in awxjob.survey_questions(template) if q["required"]}
    given = set(template.get("extra_vars") or {})
    assert required_inputs(template["playbook"]) <= asked | given


# ------------------------------------------------------------------ slicing


@pytest.mark.parametrize("template", TEMPLATES, ids=template_ids)
def test_no_template_may_be_sliced(template):
    assert template["job_slice_count"] == 1
    assert template["ask_job_slice_count_on_launch"] is False


@pytest.mark.parametrize("playbook", sorted(REFUSE_SLICES))
def test_playbooks_that_need_whole_groups_refuse_a_slice_first(playbook):
    plays = yaml.safe_load((REPO / playbook).read_text())
    first = (plays[0].get("pre_tasks") or plays[0]["tasks"])[0]
    assert first.get("ansible.builtin.import_tasks") == "tasks/refuse_job_slice.yml"


# ------------------------------------------------------------------ schedules


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: s["name"])
def test_each_schedule_launches_a_template_with_valid_answers(schedule):
    template = by_name(schedule["unified_job_template"])
    assert awxjob.launch_errors(template, schedule.get("extra_data")) == []
    # AWX's form: DTSTART;TZID=...:YYYYMMDDTHHMMSS RRULE:...
    rule = rrulestr(schedule["rrule"].replace(" RRULE:", "\nRRULE:"))
    assert len(list(rule.xafter(rule._dtstart, count=3))) == 3


def test_the_nightly_backup_check_runs_every_night():
    schedule = next(s for s in SCHEDULES if "nightly" in s["name"])
    assert "FREQ=DAILY;INTERVAL=1" in schedule["rrule"]
    assert by_name(schedule["unified_job_template"])["playbook"] == "playbooks/backup.yml"


# ------------------------------------------------------------------ applying them


def module_options(module):
    source = (
        Path(__import__("ansible_collections.awx.awx", fromlist=["x"]).__path__[0]) / "plugins" / "modules" / module
    )
    documentation = re.search(r'DOCUMENTATION = """(.*?)"""', source.read_text(), re.S) or re.search(
        r"DOCUMENTATION = '''(.*?)'''", source.read_text(), re.S
    )
    return set(yaml.safe_load(documentation.group(1))["options"])


@pytest.mark.parametrize(
    ("section", "module"),
    [
        ("controller_templates", "job_template.py"),
        ("controller_schedules", "schedule.py"),
        ("controller_projects", "project.py"),
        ("controller_execution_environments", "execution_environment.py"),
    ],
)
def test_every_setting_is_an_option_of_the_awx_module_that_applies_it(section, module):
    used = {key for entry in CONTROLLER[section] for key in entry}
    assert used <= module_options(module)
    applied = yaml.safe_load((REPO / "awx" / "configure.yml").read_text())[0]["tasks"]
    task = next(task for task in applied if f"awx.awx.{module.removesuffix('.py')}" in task)
    assert used <= set(task[f"awx.awx.{module.removesuffix('.py')}"])
