"""site.yml on the data tier refuses bad inputs in its preflight, before any change."""

import json

from conftest import changed_total, on_host, pg_version, playbook, primary, psql

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): runs site.yml on the data tier with inputs
# its preflight refuses; nothing changes.
LAB_USES = {"database": "shared", "primary": "shared"}


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
