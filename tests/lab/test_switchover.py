"""switchover.yml stops before PgBouncer is paused or anything changes when a standby or a PgBouncer it needs is down.

Its other refusals and its check mode, which need nothing stopped, are test_switchover_preflight.py's. A switchover
there and back under writes is test_backup.py's (the new primary must archive too); how long the pause is, under
pgbench, is measured and printed by tests/benchmarks/switchover.py, not asserted here.
"""

import pytest
from conftest import on_host, pg_version, primary
from test_switchover_preflight import refused

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): stops a standby and a PgBouncer.
LAB_USES = {"database": "exclusive", "primary": "exclusive"}


@pytest.fixture
def standby_down():
    standby = "db2" if primary() == "db1" else "db1"
    on_host(standby, f"pg_ctlcluster {pg_version(standby)} main stop -m fast")
    yield standby
    on_host(standby, f"pg_ctlcluster {pg_version(standby)} main start")


def test_no_healthy_standby_stops_before_pause(standby_down):
    out = refused()
    assert "there is no healthy standby" in out


@pytest.fixture
def one_bouncer_down():
    on_host("app2", "systemctl stop pgbouncer")
    yield "app2"
    on_host("app2", "systemctl start pgbouncer")


def test_a_pgbouncer_that_is_down_stops_the_switchover_before_any_pause(one_bouncer_down):
    out = " ".join(refused().split())
    assert "Could not connect to the PgBouncer admin console" in out
    assert "Launch PAUSE" not in out  # refused in the preflight, nothing launched
