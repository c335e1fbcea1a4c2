"""Cache and broker kept apart: key patterns per user, Celery on its own keys, no eviction where Celery queues,
and separate instances (cache, broker) on one host.

Celery and kombu run on the controller from the shop's virtualenv (.cache/venvs/shop, the versions the app
deploys) against the container's Redis, so the key patterns are checked against what kombu really uses.
"""

import re
import subprocess
from pathlib import Path

import pytest
from test_redis import own_address, redis

SHOP_VENV = Path(__file__).resolve().parents[3] / ".cache" / "venvs" / "shop"

# A Celery app configured as the shop's (examples/shop/shop/celery_app.py): named queues, late acks.
PROBE_APP = """
import os
from celery import Celery
from kombu import Queue

app = Celery("probe", broker=os.environ["PROBE_BROKER"], backend=os.environ["PROBE_BACKEND"])
app.conf.update(
    task_default_queue="default",
    task_queues=[Queue("default"), Queue("emails")],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
)


@app.task
def add(x, y):
    return x + y
"""

# Remote control (a reply queue), a task on each queue through the broker, and its result from the backend.
PROBE_CLIENT = """
import sys
import time

from probe import add, app

deadline = time.monotonic() + 60
while not app.control.ping(timeout=1):
    if time.monotonic() > deadline:
        sys.exit("no worker answered a ping within 60 s")
print(add.apply_async((2, 3), queue="default").get(timeout=30), add.apply_async((4, 5), queue="emails").get(timeout=30))
"""


def run_celery(tier, tmp_path, port, broker_db=1, backend_db=2):
    """Run a Celery worker and a client as the celery user on the host's private address: (output, worker log)."""
    python = SHOP_VENV / "bin" / "python"
    assert python.exists(), f"{python} is missing: ./dev app builds the shop's virtualenv"
    (tmp_path / "probe.py").write_text(PROBE_APP)
    (tmp_path / "client.py").write_text(PROBE_CLIENT)
    # Over TLS, verifying the certificate with the CA and its name (the host's address, which it holds), as the shop's
    # URLs do: redis-py, kombu and Celery's result backend read the same query.
    url = f"rediss://celery:{tier.passwords['celery']}@{own_address(tier.host)}:{port}"
    query = f"?ssl_cert_reqs=required&ssl_ca_certs={tier.controller_ca}&ssl_check_hostname=true"
    env = {
        "PROBE_BROKER": f"{url}/{broker_db}{query}",
        "PROBE_BACKEND": f"{url}/{backend_db}{query}",
        "PYTHONPATH": str(tmp_path),
    }
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [str(SHOP_VENV / "bin" / "celery"), "-A", "probe", "worker", "--pool", "solo", "-Q", "default,emails"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            client = subprocess.run(
                [str(python), "client.py"],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    return client.stdout.strip() + client.stderr.strip(), log.read_text()


def celery_keys(tier, db, port=6379):
    """Every key Celery left in a database, read as the admin."""
    return redis(tier, "--scan", user="admin", db=db, port=port).splitlines()


def test_celery_works_on_its_own_keys(tier, tmp_path):
    out, log = run_celery(tier, tmp_path, 6379)
    assert out == "5 9", log
    assert "NOPERM" not in log
    # What Celery left behind is under the patterns its user has, and out of the app user's reach.
    keys = celery_keys(tier, 1) + celery_keys(tier, 2)
    assert any(key.startswith("_kombu.binding.") for key in keys), keys
    assert any(key.startswith("celery-task-meta-") for key in keys), keys
    for key in keys:
        assert "NOPERM" in redis(tier, "TYPE", key, user="app", db=1), key


@pytest.mark.parametrize(
    "command",
    [
        ("HGETALL", "unacked"),
        ("ZRANGE", "unacked_index", "0", "-1"),
        ("LRANGE", "default", "0", "-1"),
        ("LPUSH", "default", "injected"),
        ("LPUSH", "emails", "injected"),
        ("SMEMBERS", "_kombu.binding.default"),
        ("GET", "celery-task-meta-1"),
        ("LPUSH", "celery", "injected"),
    ],
)
def test_app_user_can_neither_read_nor_inject_celery_messages(tier, command):
    assert "NOPERM" in redis(tier, *command, user="app", db=1)


def test_celery_user_cannot_touch_the_cache(tier):
    key = f"{tier.cache_prefix}x"
    assert redis(tier, "SET", key, "1", user="app") == "OK"
    assert "NOPERM" in redis(tier, "GET", key, user="celery")
    assert "NOPERM" in redis(tier, "SET", key, "2", user="celery")


def test_eviction_refused_while_celery_uses_the_instance(tier):
    conf = tier.host.file("/etc/redis/redis.conf").content_string
    rc, out = tier.converge({"redis_maxmemory_policy": "allkeys-lru"})
    assert rc != 0
    assert "Redis instance main (port 6379) has maxmemory-policy allkeys-lru but lets" in said(out)
    assert "user(s) celery in (redis_broker_users)" in said(out)
    assert tier.host.file("/etc/redis/redis.conf").content_string == conf


def said(out):
    """The output without colours and with every run of white space made one space (long messages are wrapped)."""
    return " ".join(re.sub(r"\x1b\[[0-9;]*m", "", out).split())


def recap_changed(out):
    return int(re.search(r"molecule-redis : ok=\d+ changed=(\d+)", said(out)).group(1))


def config_get(tier, setting, port):
    return redis(tier, "CONFIG", "GET", setting, user="admin", port=port).splitlines()[1]


SPLIT = {
    "redis_instances": [
        {"name": "main", "port": 6379, "users": ["app", "admin"], "maxmemory_policy": "allkeys-lru"},
        {"name": "broker", "port": 6380, "users": ["celery", "admin"], "maxmemory": "64mb"},
    ]
}


def test_separate_cache_and_broker_instances_on_one_host(tier, tmp_path):
    host = tier.host
    rc, out = tier.converge(SPLIT)
    assert rc == 0, out
    rc, out = tier.converge(SPLIT)
    assert rc == 0 and recap_changed(out) == 0, out

    assert host.service("redis-server@broker").is_running
    assert host.service("redis-server@broker").is_enabled
    assert config_get(tier, "maxmemory-policy", 6379) == "allkeys-lru"
    assert config_get(tier, "maxmemory-policy", 6380) == "noeviction"
    assert config_get(tier, "maxmemory", 6380) == str(64 * 1024 * 1024)
    assert config_get(tier, "dir", 6380) == "/var/lib/redis/broker"
    # Each instance lets its own users in only.
    assert redis(tier, "PING", user="app") == "PONG"
    assert "WRONGPASS" in redis(tier, "PING", user="celery")
    assert "WRONGPASS" in redis(tier, "PING", user="app", port=6380)
    assert redis(tier, "PING", user="celery", address=own_address(host), port=6380) == "PONG"
    # The broker instance's unit is Debian's template with the same sandbox.
    show = host.check_output("systemctl show redis-server@broker -p ProtectSystem -p ReadWritePaths")
    props = dict(line.split("=", 1) for line in show.splitlines())
    assert props["ProtectSystem"] == "strict"
    assert "/etc/redis" not in props["ReadWritePaths"]
    assert "/var/lib/redis/broker" in props["ReadWritePaths"]

    out, log = run_celery(tier, tmp_path, 6380, broker_db=0, backend_db=1)
    assert out == "5 9", log
    assert host.file("/var/lib/redis/broker/appendonlydir").is_directory

    # Back to one instance for both: Celery's user is let in again, and the policy is back to noeviction.
    rc, out = tier.converge({})
    assert rc == 0, out
    assert config_get(tier, "maxmemory-policy", 6379) == "noeviction"
    assert redis(tier, "PING", user="celery") == "PONG"


def test_instances_need_the_admin_and_ports_of_their_own(tier):
    rc, out = tier.converge({"redis_instances": [{"name": "main"}, {"name": "broker", "users": ["celery"]}]})
    assert rc != 0
    assert "Every entry of redis_instances needs a unique name" in said(out)
    assert "a port of its own" in said(out)
