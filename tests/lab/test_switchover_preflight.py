"""switchover.yml's preflight on the lab: a plan it cannot carry out safely is refused before PgBouncer is paused or
anything changes, and in check mode it reports the plan and stops before anything is paused or promoted.

These tests only read the cluster (a transaction left open is the most they add), so they share the database with
the tests beside them; the refusals that need a standby or a PgBouncer stopped are test_switchover.py's.
"""

import pytest
from conftest import failure, on_host, playbook, pools_paused, primary

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): runs switchover.yml's read-only preflight and
# holds a transaction open on the primary.
LAB_USES = {"database": "shared", "primary": "shared"}

BOUNCERS = ["app1", "app2", "worker1"]


def refused(*extra):
    """switchover.yml with EXTRA fails; the primary and every PgBouncer are as they were."""
    before = primary()
    rc, out = playbook("playbooks/switchover.yml", *extra, timeout=300)
    assert rc != 0
    assert primary() == before
    assert not pools_paused()
    return out


def test_the_current_primary_as_target_is_refused():
    out = refused("-e", f"switchover_target={primary()}")
    assert "is already the primary" in out


def test_a_target_outside_the_cluster_is_refused():
    out = refused("-e", "switchover_target=app1")
    assert "is not a member of group 'postgres'" in out


@pytest.fixture
def long_transaction():
    host = primary()
    on_host(host, "runuser -u postgres -- sh -c \"psql -Xqc 'BEGIN; SELECT pg_sleep(120); COMMIT' >/dev/null 2>&1 &\"")
    yield host
    on_host(
        host,
        'runuser -u postgres -- psql -XAtqc "SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
        "WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()\"",
    )


def test_a_long_transaction_on_the_primary_stops_before_pause(long_transaction):
    out = " ".join(refused("-e", "switchover_max_xact_seconds=1").split())
    assert "more than switchover_max_xact_seconds=1" in out
    assert "application 'psql'" in out


def test_switchover_in_check_mode_reports_the_plan_and_keeps_the_primary():
    before = primary()
    configs = {host: on_host(host, "md5sum /etc/pgbouncer/pgbouncer.ini") for host in BOUNCERS}
    rc, out = playbook("playbooks/switchover.yml", "--check", "--diff", timeout=300)
    assert rc == 0, failure(out)
    assert "would_promote" in out
    assert f"would_demote: {before} " in out
    assert primary() == before
    for host in BOUNCERS:
        assert not pools_paused(host)
        assert on_host(host, "md5sum /etc/pgbouncer/pgbouncer.ini") == configs[host]
        assert on_host(host, "test -e /etc/pgbouncer/pgbouncer.ini.next && echo staged || echo none") == "none"
    slots = on_host(before, "runuser -u postgres -- psql -XAtqc 'SELECT slot_name FROM pg_replication_slots'")
    assert "webstack_switchover_rewind" not in slots
