# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make this checkout importable as ansible_collections.opsforge.webstack for `pytest tests/unit`.

A temporary tree holds ansible_collections/opsforge/webstack as a symlink to the repository root and is
put first on sys.path, so the tests import the plugins exactly as Ansible does, without installing anything.
"""

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _link_collection():
    tree = Path(tempfile.mkdtemp(prefix="opsforge-unit-"))
    atexit.register(shutil.rmtree, tree, True)
    namespace = tree / "ansible_collections" / "opsforge"
    namespace.mkdir(parents=True)
    (namespace / "webstack").symlink_to(REPO_ROOT, target_is_directory=True)
    sys.path.insert(0, str(tree))
    return tree


COLLECTIONS_TREE = _link_collection()


@pytest.fixture
def run_module_main(capsys):
    """Call a module's main() with the given module args; return (exit code, result dict)."""
    from ansible.module_utils.testing import patch_module_args

    def run(main, args):
        with patch_module_args(args), pytest.raises(SystemExit) as exc:
            main()
        return exc.value.code, json.loads(capsys.readouterr().out)

    return run


@pytest.fixture
def run_playbook(tmp_path):
    """Run ansible-playbook on a play (its YAML text) with this checkout as the collection and no lab settings;
    return (exit code, the output on one line)."""

    def run(play_text, *args, timeout=180):
        play = tmp_path / "play.yml"
        play.write_text(play_text)
        env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS_TREE), "ANSIBLE_NOCOLOR": "1"}
        env.pop("ANSIBLE_CONFIG", None)
        result = subprocess.run(
            [str(Path(sys.executable).parent / "ansible-playbook"), *args, str(play)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return result.returncode, " ".join((result.stdout + result.stderr).split())

    return run


@pytest.fixture
def critical_section_options():
    """Good values of the options every database-side module of a switchover's critical section takes
    (module_utils/switchover.critical_section_params_error checks them)."""
    return {
        "bouncers": ["app1", "app2"],
        "catchup_timeout": 3,
        "pause_timeout": 15,
        "pause_wait": 3,
        "promote_wait": 3,
        "signal_timeout": 10,
        "poll_interval_ms": 20,
    }
