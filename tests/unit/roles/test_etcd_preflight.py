"""The etcd role refuses a cluster that cannot outvote a failure, before it installs anything."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("members", [2, 4])
def test_an_even_number_of_members_is_refused_with_the_reason(tmp_path, members):
    inventory = tmp_path / "inventory.ini"
    others = "\n".join(f"etcd{n} ansible_host=192.0.2.{n}" for n in range(2, members + 1))
    local = f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}"
    inventory.write_text(f"[etcd]\n{local}\n{others}\n")
    play = tmp_path / "play.yml"
    play.write_text("- hosts: localhost\n  roles:\n    - role: opsforge.webstack.etcd\n")
    collections = tmp_path / "collections" / "ansible_collections" / "opsforge"
    collections.mkdir(parents=True)
    (collections / "webstack").symlink_to(ROOT, target_is_directory=True)
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(tmp_path / "collections"), "ANSIBLE_NOCOLOR": "1"}
    env.pop("ANSIBLE_CONFIG", None)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(play), "--check"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 2, output
    assert f"an odd number of voting members, at least 3 (it has {members}" in output
    assert "a single failure or a split in halves leaves no majority" in output
