# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every module that talks to a service is in the webstack action group, so one module_defaults entry reaches all
of them. The modules that only converge the host's own files and units take no connection settings, and stay out:
a default meant for the others would be an unsupported parameter to them."""

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
HOST_ONLY = {"files", "systemd_units"}


def test_every_module_is_in_the_webstack_action_group():
    runtime = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())
    group = set(runtime["action_groups"]["webstack"])
    modules = {path.stem for path in (REPO / "plugins" / "modules").glob("*.py") if path.stem != "__init__"} - HOST_ONLY
    assert modules, "no modules found in plugins/modules"
    assert sorted(modules - group) == [], "add these modules to action_groups.webstack in meta/runtime.yml"
    assert sorted(group - modules) == [], "action_groups.webstack names modules that do not exist"
