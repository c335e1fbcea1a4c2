# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filter files stay cheap to load: ansible-core executes every file in plugins/filter in each forked worker
whenever a template uses one of the collection's filters, so none may import psycopg2 or the network modules."""

import os
import subprocess
import sys
from pathlib import Path

FILTERS = Path(__file__).resolve().parents[4] / "plugins" / "filter"
HEAVY = ("psycopg2", "ssl", "urllib.request", "http.client")
LOAD = f"""
import importlib, sys
for name in sys.argv[1:]:
    importlib.import_module("ansible_collections.opsforge.webstack.plugins.filter." + name)
print(" ".join(module for module in {HEAVY!r} if module in sys.modules))
"""


def test_no_filter_file_imports_psycopg2_or_the_network_modules():
    names = sorted(path.stem for path in FILTERS.glob("*.py"))
    # A fresh interpreter (this one has them loaded already), importing as this one does.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD, *names], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert loaded.stdout.split() == []
