# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make this checkout importable as ansible_collections.opsforge.webstack for `pytest tests/unit`.

A temporary tree holds ansible_collections/opsforge/webstack as a symlink to the repository root and is
put first on sys.path, so the tests import the plugins exactly as Ansible does, without installing anything.
"""

import atexit
import json
import shutil
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


_link_collection()


@pytest.fixture
def run_module_main(capsys):
    """Call a module's main() with the given module args; return (exit code, result dict)."""
    from ansible.module_utils.testing import patch_module_args

    def run(main, args):
        with patch_module_args(args), pytest.raises(SystemExit) as exc:
            main()
        return exc.value.code, json.loads(capsys.readouterr().out)

    return run
