"""site.yml on the data tier: inputs it refuses before any change, tags that run one part, and a
PgBouncer listening change that takes effect."""

import json
import re

from conftest import on_host, pg_version, playbook, primary, psql

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): moves worker1's PgBouncer to another port and
# back; runs the data tier's roles.
LAB_USES = {"database": "exclusive", "primary": "exclusive"}


def changed_total(output):
    return sum(int(n) for n in re.findall(r"changed=(\d+)", output))


def test_a_setting_the_role_owns_is_refused_before_any_change():
    host = primary()
    hba_before = on_host(host, f"sha256sum /etc/postgresql/{pg_version(host)}/main/pg_hba.conf")
    settings = json.dumps({"postgresql_settings": {"password_encryption": "md5", "work_mem": "8MB"}})
    rc, out = playbook("playbooks/site.yml", "--limit", "postgres", "-e", settings)
    assert rc != 0
    assert "postgresql_settings may not set password_encryption" in out
    assert changed_total(out) == 0
    assert psql(host, "SHOW password_encryption") == "scram-sha-256"
    assert on_host(host, f"sha256sum /etc/postgresql/{pg_version(host)}/main/pg_hba.conf") == hba_before


def test_the_example_inventorys_placeholder_secrets_are_refused_before_any_change():
    placeholders = {
        "postgresql_replication_password": "CHANGE-ME-replication-0000",
        "pgbouncer_admin_password": "CHANGE-ME-pgbouncer-admin-0",
        "postgresql_users": [{"name": "shop", "password": "CHANGE-ME-shop-db-00000000"}],
    }
    rc, out = playbook("playbooks/site.yml", "--limit", "postgres,app1", "-e", json.dumps(placeholders))
    assert rc != 0
    assert "postgresql_replication_password looks like a placeholder (contains 'CHANGE-ME')" in out
    assert "the password of postgresql_users entry shop looks like a placeholder" in out
    assert changed_total(out) == 0
    for value in (placeholders["postgresql_replication_password"], placeholders["pgbouncer_admin_password"]):
        assert value not in out


def test_the_configure_tag_alone_runs_the_checks_and_changes_nothing():
    rc, out = playbook("playbooks/site.yml", "--limit", "postgres", "--tags", "postgresql_configure")
    assert rc == 0, out[-3000:]
    assert "Keep a replication slot for every other member" in out
    assert changed_total(out) == 0, out[-3000:]


def test_a_new_pgbouncer_port_restarts_it_and_the_old_one_closes():
    listening = "ss -Hltn 'sport = :{}' | wc -l"
    try:
        rc, out = playbook(
            "playbooks/site.yml", "--limit", "worker1", "--tags", "pgbouncer", "-e", "pgbouncer_listen_port=6433"
        )
        assert rc == 0, out[-3000:]
        assert on_host("worker1", listening.format(6433)) == "1"
        assert on_host("worker1", listening.format(6432)) == "0"
    finally:
        rc, out = playbook("playbooks/site.yml", "--limit", "worker1", "--tags", "pgbouncer")
    assert rc == 0, out[-3000:]
    assert on_host("worker1", listening.format(6432)) == "1"
