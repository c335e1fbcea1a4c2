"""The molecule instances get the capabilities lab/lab.sh gives the lab's hosts for systemd's service sandboxes, so
that a unit sandboxed in one is sandboxed in the other (docs/lab.md, "Debian 13 (trixie)")."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]


def lab_capabilities() -> list[str]:
    (words,) = re.findall(r"^SANDBOX_CAPABILITIES=\(([^)]*)\)$", (ROOT / "lab" / "lab.sh").read_text(), re.MULTILINE)
    return words.split()


def test_the_lab_gives_its_hosts_what_systemd_sandboxes_need():
    assert lab_capabilities() == ["SYS_ADMIN", "SYS_PTRACE"]


@pytest.mark.parametrize("scenario", sorted(path.parent.name for path in (ROOT / "molecule").glob("*/molecule.yml")))
def test_every_molecule_instance_gets_the_same(scenario):
    platforms = yaml.safe_load((ROOT / "molecule" / scenario / "molecule.yml").read_text())["platforms"]
    assert [platform.get("capabilities") for platform in platforms] == [lab_capabilities()] * len(platforms)
