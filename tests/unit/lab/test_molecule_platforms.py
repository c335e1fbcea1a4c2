"""The molecule instances are made like the lab's hosts: the capabilities lab/lab.sh gives them for systemd's service
sandboxes (and NET_ADMIN for their firewall, where a scenario runs it), so that a unit sandboxed in one is sandboxed in
the other (docs/lab.md, "Debian 13 (trixie)"), and the same Debian release when WEBSTACK_LAB_RELEASE is not set."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
LAB_SH = (ROOT / "lab" / "lab.sh").read_text()
SCENARIOS = sorted(path.parent.name for path in (ROOT / "molecule").glob("*/molecule.yml"))


def lab_capabilities() -> list[str]:
    (words,) = re.findall(r"^SANDBOX_CAPABILITIES=\(([^)]*)\)$", LAB_SH, re.MULTILINE)
    return words.split()


def lab_default_release() -> str:
    (release,) = re.findall(r"^SUITE=\$\{WEBSTACK_LAB_RELEASE:-(\w+)\}$", LAB_SH, re.MULTILINE)
    return release


def platforms(scenario: str) -> list[dict]:
    return yaml.safe_load((ROOT / "molecule" / scenario / "molecule.yml").read_text())["platforms"]


def test_the_lab_gives_its_hosts_what_systemd_sandboxes_need():
    assert lab_capabilities() == ["SYS_ADMIN", "SYS_PTRACE"]


def test_the_lab_runs_the_current_stable_release_unless_told_otherwise():
    assert lab_default_release() == "trixie"


def test_the_lab_lets_its_hosts_manage_their_own_firewall():
    assert "--cap-add NET_ADMIN ${SANDBOX_CAPABILITIES[*]/#/--cap-add }" in LAB_SH


def runs_the_firewall(scenario: str) -> bool:
    converge = (ROOT / "molecule" / scenario / "converge.yml").read_text()
    return "playbooks/site.yml" in converge or "opsforge.webstack.firewall" in converge


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_molecule_instance_gets_the_same_capabilities(scenario):
    """The sandboxes' capabilities; and NET_ADMIN on every instance of a scenario that runs the firewall role (as every
    lab host has it), on none of the others."""
    expected = lab_capabilities() + (["NET_ADMIN"] if runs_the_firewall(scenario) else [])
    assert [platform.get("capabilities") for platform in platforms(scenario)] == [expected] * len(platforms(scenario))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_molecule_instance_defaults_to_the_labs_release(scenario):
    suffix = ":${WEBSTACK_LAB_RELEASE:-" + lab_default_release() + "}"
    assert [platform["image"] for platform in platforms(scenario) if not platform["image"].endswith(suffix)] == []


RELEASE_AWARE_PREPARES = sorted(
    path for path in (ROOT / "molecule").glob("*/prepare.yml") if "WEBSTACK_LAB_RELEASE" in path.read_text()
)


@pytest.mark.parametrize("prepare", RELEASE_AWARE_PREPARES, ids=lambda path: path.parent.name)
def test_the_prepare_steps_build_for_the_labs_release_by_default(prepare):
    defaults = re.findall(r"'WEBSTACK_LAB_RELEASE'.*?default\('(\w+)', true\)", prepare.read_text(), re.DOTALL)
    assert defaults and set(defaults) == {lab_default_release()}
