"""The etcd role refuses a cluster that cannot outvote a failure, before it installs anything."""

import sys

import pytest


@pytest.mark.parametrize("members", [2, 4])
def test_an_even_number_of_members_is_refused_with_the_reason(tmp_path, run_playbook, members):
    inventory = tmp_path / "inventory.ini"
    others = "\n".join(f"etcd{n} ansible_host=192.0.2.{n}" for n in range(2, members + 1))
    local = f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}"
    inventory.write_text(f"[etcd]\n{local}\n{others}\n")
    returncode, output = run_playbook(
        "- hosts: localhost\n  roles:\n    - role: opsforge.webstack.etcd\n", "-i", str(inventory), "--check"
    )
    assert returncode == 2, output
    assert f"an odd number of voting members, at least 3 (it has {members}" in output
    assert "a single failure or a split in halves leaves no majority" in output
