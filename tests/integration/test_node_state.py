# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_node_state against a real PostgreSQL (the controller's): the states the postgresql role's topology decides
the primary from.

Run as root, as the role runs it, the module connects over the unix socket as the owner of the data directory
(peer authentication), and reports a running server that does not answer as stopped.
"""

import os

import pytest
from pglab import PG_VERSION, PRIMARY_PORT, STANDBY_PORT, as_pg, run


def state_of(lab, data_dir, port, **extra):
    args = {
        "data_directory": str(data_dir),
        "version": str(PG_VERSION),
        "port": port,
        "login_unix_socket": str(lab.sock),
    }
    args.update(extra)
    res = lab.module("pg_node_state", args)
    assert not res.get("failed"), res
    assert res["changed"] is False
    return res


@pytest.fixture
def peer(replication):
    """The postgres OS user may log in as postgres over the unix socket (peer), as on the hosts the role manages."""
    for data_dir, port in ((replication.node_a, PRIMARY_PORT), (replication.node_b, STANDBY_PORT)):
        hba = data_dir / "pg_hba.conf"
        hba.write_text("local all postgres peer\n" + hba.read_text())
        run(
            as_pg(["psql", "-h", str(replication.sock), "-p", str(port), "-XAtqc", "SELECT pg_reload_conf()"]),
            env={**os.environ, "PGPASSWORD": "super-Secret-1"},
        )
    return replication


def test_running_and_stopped_members(lab, peer):
    if os.geteuid() != 0:
        pytest.fail("pg_node_state's peer login is tested as root, as the postgresql role runs it", pytrace=False)
    assert state_of(lab, lab.node_a, PRIMARY_PORT)["state"] == "running-primary"
    standby = state_of(lab, lab.node_b, STANDBY_PORT)
    assert standby["state"] == "running-standby" and standby["running"] and standby["connect_error"] is None

    # A running server that does not answer (wrong port) counts as stopped; standby.signal says which.
    wrong = state_of(lab, lab.node_b, 1)
    assert wrong["state"] == "stopped-standby" and wrong["connect_error"]

    _start, stop = lab.node_commands(lab.node_b, STANDBY_PORT)
    run(stop)
    stopped = state_of(lab, lab.node_b, STANDBY_PORT)
    assert stopped["state"] == "stopped-standby" and stopped["running"] is False
    assert state_of(lab, lab.base / "nowhere", STANDBY_PORT)["state"] == "absent"


def test_refuses_the_data_directory_of_another_version(lab, primary):
    res = lab.module("pg_node_state", {"data_directory": str(lab.node_a), "version": "16", "port": PRIMARY_PORT})
    assert res.get("failed") and f"holds a PostgreSQL {PG_VERSION} cluster, not 16" in res["msg"]
