"""The prometheus role's alert rules and configuration, rendered with the role's defaults, pass promtool:
`check config`, `check rules`, and `test rules` with a firing and a silent case for every alert."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[4]
ROLE = ROOT / "roles" / "prometheus"
HERE = Path(__file__).resolve().parent
TESTS = HERE / "webstack.rules.test.yml"

pytestmark = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool is missing: ./dev setup installs Debian's prometheus package"
)

INVENTORY = """
all:
  vars:
    ansible_connection: local
    ansible_python_interpreter: {python}
  children:
    monitoring: {{hosts: {{mon1: }}}}
    postgres: {{hosts: {{db1: , db2: }}}}
    pgbouncer: {{hosts: {{app1: }}}}
    redis: {{hosts: {{cache1: }}}}
    nginx: {{hosts: {{lb1: }}}}
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("prometheus")
    inventory = out / "hosts.yml"
    inventory.write_text(INVENTORY.format(python=sys.executable))
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".cache" / "collections"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "0",
    }
    env.pop("ANSIBLE_CONFIG", None)
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            str(inventory),
            str(HERE / "render.yml"),
            "-e",
            f"out={out} templates={ROLE / 'templates'} _prometheus_rules_file={out / 'webstack.rules.yml'}",
        ],
        cwd=out,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def promtool(*args, cwd=None):
    return subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def rules(path):
    return [rule for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]]


def test_rules_pass_promtool_check(rendered):
    result = promtool("check", "rules", str(rendered / "webstack.rules.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_config_passes_promtool_check(rendered):
    result = promtool("check", "config", str(rendered / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_config_scrapes_the_inventory(rendered):
    config = yaml.safe_load((rendered / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    instances = {name: sorted(c["labels"]["instance"] for c in job["static_configs"]) for name, job in jobs.items()}
    assert instances["node"] == sorted(["mon1", "db1", "db2", "app1", "cache1", "lb1"])
    assert instances["postgres"] == ["db1", "db2"]
    assert instances["redis"] == ["cache1"]
    assert instances["blackbox_https"] == ["lb1"]
    assert jobs["blackbox_https"]["static_configs"][0]["targets"] == ["https://lb1/readyz"]


def test_every_rule_says_what_it_means_and_what_to_run(rendered):
    for rule in rules(rendered / "webstack.rules.yml"):
        if "alert" not in rule:
            continue  # a recording rule
        annotations = rule.get("annotations", {})
        assert {"summary", "description", "runbook"} <= set(annotations), rule["alert"]
        named = re.findall(r"playbooks/(\w+)\.yml", annotations["runbook"])
        related = re.findall(r"\bWebstack\w+", annotations["runbook"])
        assert named or related, f"{rule['alert']}: the runbook names no playbook and no related alert"
        for playbook in named:
            assert (ROOT / "playbooks" / f"{playbook}.yml").is_file(), (rule["alert"], playbook)


def test_every_alert_has_a_firing_and_a_silent_case():
    alerts = {rule["alert"] for rule in rules_from_template()}
    cases = [case for test in yaml.safe_load(TESTS.read_text())["tests"] for case in test.get("alert_rule_test", [])]
    firing = {case["alertname"] for case in cases if case["exp_alerts"]}
    silent = {case["alertname"] for case in cases if not case["exp_alerts"]}
    assert alerts - firing == set(), "alerts that no test makes fire"
    assert alerts - silent == set(), "alerts that no test keeps silent"


def rules_from_template():
    text = (ROLE / "templates" / "webstack.rules.yml.j2").read_text()
    return [{"alert": name} for name in re.findall(r"- alert: (\w+)", text)]


def test_promtool_unit_tests(rendered):
    # promtool compares annotations too: the cases check labels, so they run against the rules without them
    # (the annotations' templates are checked by `promtool check rules` above).
    bare = yaml.safe_load((rendered / "webstack.rules.yml").read_text())
    for group in bare["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (rendered / "bare").mkdir(exist_ok=True)
    (rendered / "bare" / "webstack.rules.yml").write_text(yaml.safe_dump(bare, sort_keys=False))
    shutil.copy(TESTS, rendered / "bare" / TESTS.name)
    result = promtool("test", "rules", TESTS.name, cwd=rendered / "bare")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_config_passes_amtool(rendered):
    if shutil.which("amtool") is None:
        pytest.skip("amtool is missing (Debian's prometheus-alertmanager)")
    result = subprocess.run(
        ["amtool", "check-config", str(rendered / "alertmanager.yml")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
