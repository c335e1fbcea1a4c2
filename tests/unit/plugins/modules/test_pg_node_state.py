# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_node_state reports the states the pg_topology filter accepts, from the inspection pg_standby uses."""

import pytest
from ansible_collections.opsforge.webstack.plugins.filter.pg_topology import pg_topology
from ansible_collections.opsforge.webstack.plugins.module_utils.member_state import STATES, classify
from ansible_collections.opsforge.webstack.plugins.modules import pg_node_state as mod


def local(has_pg_version=True, standby_signal=False):
    return {"has_pg_version": has_pg_version, "standby_signal": standby_signal}


@pytest.mark.parametrize(
    ("node", "in_recovery", "state"),
    [
        (local(has_pg_version=False), None, "absent"),
        (local(has_pg_version=False, standby_signal=True), None, "absent"),
        (local(), False, "running-primary"),
        (local(standby_signal=True), True, "running-standby"),
        (local(), True, "running-standby"),  # in recovery is what counts, not the file
        (local(), None, "stopped-primary"),
        (local(standby_signal=True), None, "stopped-standby"),
    ],
)
def test_classify(node, in_recovery, state):
    assert classify(node, in_recovery) == state
    assert state in STATES


def test_every_state_is_one_the_filter_accepts():
    for state in STATES:
        pg_topology({"db1": state}, "db1")


def test_an_empty_directory_is_absent(tmp_path, run_module_main):
    code, result = run_module_main(mod.main, {"data_directory": str(tmp_path / "main"), "version": "15"})
    assert code == 0 and result["state"] == "absent" and result["changed"] is False


def test_a_stopped_standby(tmp_path, run_module_main):
    (tmp_path / "PG_VERSION").write_text("15\n")
    (tmp_path / "standby.signal").write_text("")
    code, result = run_module_main(mod.main, {"data_directory": str(tmp_path), "version": "15"})
    assert code == 0 and result["state"] == "stopped-standby" and result["pg_version"] == "15"
    assert result["running"] is False and result["connect_error"] is None


def test_a_stopped_primary_of_any_version(tmp_path, run_module_main):
    (tmp_path / "PG_VERSION").write_text("16\n")
    code, result = run_module_main(mod.main, {"data_directory": str(tmp_path)})
    assert code == 0 and result["state"] == "stopped-primary"


def test_refuses_a_cluster_of_another_version(tmp_path, run_module_main):
    (tmp_path / "PG_VERSION").write_text("16\n")
    code, result = run_module_main(mod.main, {"data_directory": str(tmp_path), "version": "15"})
    assert code == 1 and "holds a PostgreSQL 16 cluster, not 15" in result["msg"]


def test_requires_the_data_directory(run_module_main):
    code, result = run_module_main(mod.main, {"port": 5433})
    assert code == 1 and "data_directory" in result["msg"]
