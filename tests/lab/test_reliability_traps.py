"""Issue 11 on the running lab: idle upstream connections, Redis users and policy, slots, sandboxed services.

Against the real uvicorn (its --timeout-keep-alive), the shop's Redis users and the cluster's slots.
"""

import json
import re
import time

import pytest
import yaml
from conftest import REPO, failure, on_host, pg_version, playbook, psql

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): changes a Redis user's keys; counts the app
# servers' connections.
LAB_USES = {"app": "shared", "cache": "shared", "cache_config": "exclusive", "database": "shared", "primary": "shared"}

# HTTPS on lb1 itself, for the site's name (nginx refuses a bare address).
LB_CURL = "curl -sk --resolve lb1:443:127.0.0.1"
# The lab's Redis passwords (inventories/lab/group_vars/all.yml).
REDIS = {"app": "lab-redis-app-password-01", "celery": "lab-redis-celery-password-1"}
# Redis speaks TLS only: redis-cli verifies it with the CA the redis role installed.
REDIS_CLI = "redis-cli --tls --cacert /etc/redis/tls/ca.crt --no-auth-warning"


def redis(user, db, *words):
    cli = f"REDISCLI_AUTH={REDIS[user]} {REDIS_CLI} --user {user} -n {db}"
    return on_host("cache1", f"{cli} {' '.join(words)} 2>&1 || true")


def test_nginx_closes_idle_upstream_connections_before_uvicorn():
    # The side that closes a TCP connection first keeps it in TIME-WAIT: for idle upstream connections that
    # must be lb1 (nginx_upstream_keepalive_timeout, 4 s), never an app server (uvicorn's 5 s).
    closed_by_apps = "ss -Htn state time-wait '( sport = :8000 )'"
    closed_by_nginx = "ss -Htn state time-wait '( dport = :8000 )'"
    before = {host: set(on_host(host, closed_by_apps).splitlines()) for host in ("app1", "app2")}
    before_lb = set(on_host("lb1", closed_by_nginx).splitlines())
    on_host("lb1", f"for i in $(seq 8); do {LB_CURL} -o /dev/null https://lb1/api/catalog; done")
    deadline = time.monotonic() + 15
    while on_host("lb1", "ss -Htn state established '( dport = :8000 )'") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert set(on_host("lb1", closed_by_nginx).splitlines()) - before_lb, "nginx closed no upstream connection"
    for host in ("app1", "app2"):
        closed_by_app = set(on_host(host, closed_by_apps).splitlines()) - before[host]
        assert not closed_by_app, f"{host} closed idle connections before nginx did"


def test_the_app_user_can_neither_read_nor_inject_celery_messages():
    on_host("lb1", f"{LB_CURL} -o /dev/null https://lb1/api/catalog")
    assert redis("app", 0, "EXISTS", "shop:catalog:v0") in ("0", "1")
    for words in (("LRANGE", "default", "0", "-1"), ("LPUSH", "emails", "x"), ("HGETALL", "unacked")):
        assert "NOPERM" in redis("app", 1, *words)
    assert "NOPERM" in redis("celery", 0, "GET", "shop:catalog:generation")
    assert redis("celery", 1, "EXISTS", "_kombu.binding.default") == "1"


def test_the_broker_instance_never_evicts():
    admin = f"REDISCLI_AUTH=lab-redis-admin-password-1 {REDIS_CLI} --user admin"
    assert on_host("cache1", f"{admin} CONFIG GET maxmemory-policy").splitlines()[1] == "noeviction"


def test_slots_keep_bounded_wal_and_the_members_are_recorded():
    for host in ("db1", "db2"):
        assert psql(host, "SHOW max_slot_wal_keep_size") == "8GB"
        record = on_host(host, f"grep -v '^#' /etc/postgresql/{pg_version(host)}/main/webstack-member-slots")
        assert record.splitlines() == ["db1", "db2"]


SERVICES = {
    "lb1": "nginx",
    "db1": "postgresql@{version}-main",
    "app1": "pgbouncer",
    "app2": "shop",
    "worker1": "celery-default",
    "cache1": "redis-server",
}


@pytest.mark.parametrize(("host", "unit"), SERVICES.items(), ids=SERVICES.values())
def test_every_service_runs_sandboxed(host, unit):
    unit = unit.format(version=pg_version(host)) if "{version}" in unit else unit
    # systemd-analyze rates the unit's configuration (Debian's nginx and postgresql@ alone: 9.6 UNSAFE; PgBouncer's
    # 4.7); the running main process shows that it started under that configuration.
    exposure = on_host(host, f"systemd-analyze security {unit}.service | tail -n 1")
    # nginx's master runs as root (binds, switches its workers to www-data): 2.5 is what is left
    assert float(exposure.split(": ")[1].split()[0]) <= (2.5 if unit == "nginx" else 2.0), exposure
    pid = on_host(host, f"systemctl show --property=MainPID --value {unit}")
    assert on_host(host, f"grep NoNewPrivs /proc/{pid}/status") == "NoNewPrivs:\t1"


def lab_secrets():
    """Every secret the lab's inventory sets in clear (its group_vars), by value."""
    found = set()
    for path in (REPO / "inventories" / "lab" / "group_vars").glob("*.yml"):
        for name, value in (yaml.safe_load(path.read_text()) or {}).items():
            if re.search("password|secret|cipher_pass", name) and isinstance(value, str) and "{{" not in value:
                found.add(value)
    return found


def test_a_verbose_run_that_changes_the_redis_acl_prints_no_secret():
    # The ACL change makes the role load the users with the admin password (ACL LOAD): a run that changes things,
    # at -vvv, where module arguments and results are printed unless a task is no_log.
    secrets = lab_secrets()
    assert len(secrets) >= 8 and "lab-redis-admin-password-1" in secrets
    admin = f"REDISCLI_AUTH=lab-redis-admin-password-1 {REDIS_CLI} --user admin"
    try:
        changed = json.dumps({"redis_app_keys": "~cache:* ~webstack-probe:*"})
        rc, out = playbook("playbooks/site.yml", "--limit", "cache1", "-vvv", "-e", changed)
        assert rc == 0, failure(out)
        assert "~webstack-probe:*" in on_host("cache1", f"{admin} ACL GETUSER app")
        assert [secret for secret in secrets if secret in out] == []
    finally:
        rc, out = playbook("playbooks/site.yml", "--limit", "cache1")
        assert rc == 0, failure(out)
    assert "~webstack-probe:*" not in on_host("cache1", f"{admin} ACL GETUSER app")
