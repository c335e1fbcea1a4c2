"""site.yml on the data tier: tags that run one part, and a PgBouncer listening change that takes effect.

The inputs it refuses before any change are test_data_tier_preflight.py's.
"""

from conftest import changed_total, failure, on_host, playbook

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): moves worker1's PgBouncer to another port and
# back; runs the data tier's roles.
LAB_USES = {"database": "exclusive", "primary": "exclusive"}


def test_the_configure_tag_alone_runs_the_checks_and_changes_nothing():
    rc, out = playbook("playbooks/site.yml", "--limit", "postgres", "--tags", "postgresql_configure")
    assert rc == 0, failure(out)
    assert "Keep a replication slot for every other member" in out
    assert changed_total(out) == 0, out[-3000:]


def test_a_new_pgbouncer_port_restarts_it_and_the_old_one_closes():
    listening = "ss -Hltn 'sport = :{}' | wc -l"
    try:
        rc, out = playbook(
            "playbooks/site.yml", "--limit", "worker1", "--tags", "pgbouncer", "-e", "pgbouncer_listen_port=6433"
        )
        assert rc == 0, failure(out)
        assert on_host("worker1", listening.format(6433)) == "1"
        assert on_host("worker1", listening.format(6432)) == "0"
    finally:
        rc, out = playbook("playbooks/site.yml", "--limit", "worker1", "--tags", "pgbouncer")
    assert rc == 0, failure(out)
    assert on_host("worker1", listening.format(6432)) == "1"
