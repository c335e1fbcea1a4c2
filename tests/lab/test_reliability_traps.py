"""Issue 11's reliability traps on the running lab: idle upstream connections, Redis users and policy, slots.

Against the real uvicorn (its --timeout-keep-alive), the shop's Redis users and the cluster's slots.
"""

import time

from conftest import on_host, psql

# The lab's Redis passwords (inventories/lab/group_vars/all.yml).
REDIS = {"app": "lab-redis-app-password-01", "celery": "lab-redis-celery-password-1"}


def redis(user, db, *words):
    cli = f"REDISCLI_AUTH={REDIS[user]} redis-cli --no-auth-warning --user {user} -n {db}"
    return on_host("cache1", f"{cli} {' '.join(words)} 2>&1 || true")


def test_nginx_closes_idle_upstream_connections_before_uvicorn():
    # The side that closes a TCP connection first keeps it in TIME-WAIT: for idle upstream connections that
    # must be lb1 (nginx_upstream_keepalive_timeout, 4 s), never an app server (uvicorn's 5 s).
    closed_by_apps = "ss -Htn state time-wait '( sport = :8000 )'"
    closed_by_nginx = "ss -Htn state time-wait '( dport = :8000 )'"
    before = {host: set(on_host(host, closed_by_apps).splitlines()) for host in ("app1", "app2")}
    before_lb = set(on_host("lb1", closed_by_nginx).splitlines())
    on_host("lb1", "for i in $(seq 8); do curl -sk -o /dev/null https://127.0.0.1/api/catalog; done")
    deadline = time.monotonic() + 15
    while on_host("lb1", "ss -Htn state established '( dport = :8000 )'") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert set(on_host("lb1", closed_by_nginx).splitlines()) - before_lb, "nginx closed no upstream connection"
    for host in ("app1", "app2"):
        closed_by_app = set(on_host(host, closed_by_apps).splitlines()) - before[host]
        assert not closed_by_app, f"{host} closed idle connections before nginx did"


def test_the_app_user_can_neither_read_nor_inject_celery_messages():
    on_host("lb1", "curl -sk -o /dev/null https://127.0.0.1/api/catalog")
    assert redis("app", 0, "EXISTS", "shop:catalog:v0") in ("0", "1")
    for words in (("LRANGE", "default", "0", "-1"), ("LPUSH", "emails", "x"), ("HGETALL", "unacked")):
        assert "NOPERM" in redis("app", 1, *words)
    assert "NOPERM" in redis("celery", 0, "GET", "shop:catalog:generation")
    assert redis("celery", 1, "EXISTS", "_kombu.binding.default") == "1"


def test_the_broker_instance_never_evicts():
    admin = "REDISCLI_AUTH=lab-redis-admin-password-1 redis-cli --no-auth-warning --user admin"
    assert on_host("cache1", f"{admin} CONFIG GET maxmemory-policy").splitlines()[1] == "noeviction"


def test_slots_keep_bounded_wal_and_the_members_are_recorded():
    for host in ("db1", "db2"):
        assert psql(host, "SHOW max_slot_wal_keep_size") == "8GB"
        record = on_host(host, "grep -v '^#' /etc/postgresql/15/main/webstack-member-slots")
        assert record.splitlines() == ["db1", "db2"]
