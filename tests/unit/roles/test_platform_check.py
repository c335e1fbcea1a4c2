"""The platform check is written once (common's `platform` entry point) and entered, not copied."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
SHARED = ROOT / "roles" / "common" / "tasks" / "platform.yml"


def _task_files():
    return sorted(p for p in (ROOT / "roles").glob("*/tasks/*.yml")) + sorted((ROOT / "playbooks").rglob("*.yml"))


def test_only_the_shared_task_file_reads_the_os_family():
    copies = [str(p.relative_to(ROOT)) for p in _task_files() if p != SHARED and "os_family" in p.read_text()]
    assert copies == [], f"check the platform with common's tasks_from: platform instead: {copies}"


def test_the_roles_that_check_enter_the_shared_check():
    for role in ("nginx", "redis"):
        tasks = yaml.safe_load((ROOT / "roles" / role / "tasks" / "preflight.yml").read_text())
        entered = [t["ansible.builtin.include_role"] for t in tasks if "ansible.builtin.include_role" in t]
        assert {"name": "opsforge.webstack.common", "tasks_from": "platform"} in entered, role
    common = yaml.safe_load((ROOT / "roles" / "common" / "tasks" / "preflight.yml").read_text())
    assert {"ansible.builtin.import_tasks": "platform.yml", "name": "Check that the platform is supported"} in common


def test_the_entry_point_has_an_argument_spec():
    specs = yaml.safe_load((ROOT / "roles" / "common" / "meta" / "argument_specs.yml").read_text())
    assert "platform" in specs["argument_specs"]


def test_the_platform_check_accepts_the_releases_of_the_version_table():
    from ansible_collections.opsforge.webstack.plugins.module_utils.debian_releases import RELEASES

    common_vars = yaml.safe_load((ROOT / "roles" / "common" / "vars" / "main.yml").read_text())
    assert common_vars["_common_supported_releases"] == list(RELEASES)


def test_every_role_names_the_supported_releases():
    from ansible_collections.opsforge.webstack.plugins.module_utils.debian_releases import RELEASES

    for meta in sorted((ROOT / "roles").glob("*/meta/main.yml")):
        platforms = yaml.safe_load(meta.read_text())["galaxy_info"]["platforms"]
        assert platforms == [{"name": "Debian", "versions": list(RELEASES)}], meta
