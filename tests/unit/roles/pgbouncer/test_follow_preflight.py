# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pgbouncer role refuses, before it installs anything, a PgBouncer host whose mode differs from its cluster's and
a leader watcher it could not run safely (no CA to verify the REST API with, bounds outside their range)."""

import sys

import pytest

PLAY = "- hosts: pgbouncer\n  gather_facts: false\n  roles:\n    - role: opsforge.webstack.pgbouncer\n"


def run_role(tmp_path, run_playbook, member_mode, *extra):
    inventory = tmp_path / "inventory.ini"
    local = f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}"
    inventory.write_text(f"[pgbouncer]\n{local}\n[postgres]\ndb1 ansible_host=192.0.2.1 postgresql_ha={member_mode}\n")
    ca = tmp_path / "ca.crt"
    ca.write_text("")
    return run_playbook(
        PLAY,
        "-i",
        str(inventory),
        "--check",
        "-e",
        f"pgbouncer_server_tls_ca_src={ca}",
        *[a for e in extra for a in ("-e", e)],
    )


@pytest.mark.parametrize(("member_mode", "own"), [("patroni", "none"), ("none", "patroni")])
def test_a_mode_other_than_the_members_is_refused(tmp_path, run_playbook, member_mode, own):
    returncode, output = run_role(tmp_path, run_playbook, member_mode, f"pgbouncer_postgresql_ha={own}")
    assert returncode == 2, output
    assert f"pgbouncer_postgresql_ha is {own}, but the members of postgres run postgresql_ha {member_mode}" in output
    assert "Set postgresql_ha for the PgBouncer hosts too (group_vars/all)" in output


@pytest.mark.parametrize(
    "setting", ["pgbouncer_server_tls_ca_src=''", "pgbouncer_follow_interval=0", "pgbouncer_follow_timeout=11"]
)
def test_a_watcher_that_cannot_run_safely_is_refused(tmp_path, run_playbook, setting):
    returncode, output = run_role(tmp_path, run_playbook, "patroni", "postgresql_ha=patroni", setting)
    assert returncode == 2, output
    assert "in the Patroni mode PgBouncer follows the leader by asking the members' REST API over TLS" in output
    assert "Nothing was changed" in output
