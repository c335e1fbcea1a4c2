"""Redis answers only its ACL users, keeps them to their commands, persists data and runs sandboxed."""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

# podman exec directly: much faster than a round trip through Ansible for every command.
testinfra_hosts = ["podman://molecule-redis"]

# The same as in converge.yml.
PASSWORDS = {
    "app": "app-password-for-molecule",
    "celery": "celery-password-for-molecule",
    "admin": "admin-password-for-molecule",
}


def redis(host, *command, user=None, password=None, db=0, address="127.0.0.1", port=6379):
    """Run redis-cli on the host; the password goes through the environment, as for the role."""
    auth = ""
    if user:
        auth = f"REDISCLI_AUTH={shlex.quote(password or PASSWORDS[user])} "
        user_option = f"--user {user}"
    else:
        user_option = ""
    words = " ".join(shlex.quote(word) for word in command)
    cmd = host.run(f"{auth}redis-cli -h {address} -p {port} --no-auth-warning {user_option} -n {db} {words}")
    return (cmd.stdout + cmd.stderr).strip()


def own_address(host):
    return json.loads(host.check_output("ip -4 -j route get 192.0.2.1"))[0]["prefsrc"]


def test_app_user_answers(host):
    assert redis(host, "PING", user="app") == "PONG"
    assert redis(host, "PING", user="app", address=own_address(host)) == "PONG"


def test_no_password_refused(host):
    assert "NOAUTH" in redis(host, "PING")
    assert "NOAUTH" in redis(host, "GET", "x")


def test_default_user_disabled(host):
    assert "WRONGPASS" in redis(host, "PING", user="default", password="anything")


def test_wrong_password_refused(host):
    assert "WRONGPASS" in redis(host, "PING", user="app", password="not-the-app-password")


@pytest.mark.parametrize(
    "command",
    [
        ("FLUSHALL",),
        ("FLUSHDB",),
        ("CONFIG", "GET", "maxmemory"),
        ("DEBUG", "SLEEP", "0"),
        ("KEYS", "*"),
        ("SHUTDOWN",),
    ],
)
def test_app_user_denied_dangerous_commands(host, command):
    # The ACL refuses them, whatever else the server allows (DEBUG is also off for everyone).
    dryrun = redis(host, "ACL", "DRYRUN", "app", *command, user="admin")
    assert "no permissions" in dryrun
    out = redis(host, *command, user="app")
    assert "NOPERM" in out or (command[0] == "DEBUG" and "not allowed" in out)


def test_app_user_caches(host):
    assert redis(host, "SET", "cache:test", "1", "EX", "60", user="app") == "OK"
    assert redis(host, "GET", "cache:test", user="app") == "1"


def test_celery_user_queues_on_db1(host):
    assert redis(host, "DEL", "celery-test-queue", user="celery", db=1) in ("0", "1")
    assert redis(host, "LPUSH", "celery-test-queue", "task-1", user="celery", db=1) == "1"
    assert redis(host, "BRPOP", "celery-test-queue", "1", user="celery", db=1).splitlines() == [
        "celery-test-queue",
        "task-1",
    ]
    assert redis(host, "PUBLISH", "/1.celery.pidbox", "hello", user="celery", db=1) == "0"
    assert "NOPERM" in redis(host, "FLUSHDB", user="celery", db=1)


def test_settings(host):
    assert redis(host, "CONFIG", "GET", "appendonly", user="admin").splitlines() == ["appendonly", "yes"]
    assert redis(host, "CONFIG", "GET", "appendfsync", user="admin").splitlines() == ["appendfsync", "everysec"]
    assert redis(host, "CONFIG", "GET", "maxmemory-policy", user="admin").splitlines()[1] == "noeviction"
    assert int(redis(host, "CONFIG", "GET", "maxmemory", user="admin").splitlines()[1]) > 0
    assert "NOPERM" not in redis(host, "ACL", "LIST", user="admin")
    # Disabled for everyone, the admin too.
    assert "not allowed" in redis(host, "DEBUG", "SLEEP", "0", user="admin")


def test_passwords_stored_hashed(host):
    acl = host.file("/etc/redis/users.acl")
    assert acl.mode == 0o640 and acl.user == "root" and acl.group == "redis"
    for password in PASSWORDS.values():
        assert password not in acl.content_string


def test_listens_on_loopback_and_private_address_only(host):
    listening = [line.split()[3] for line in host.check_output("ss -Htln").splitlines()]
    assert sorted(a for a in listening if a.endswith(":6379")) == sorted(
        ["127.0.0.1:6379", f"{own_address(host)}:6379"]
    )


def test_unit_sandboxed(host):
    show = host.check_output(
        "systemctl show redis-server -p ProtectSystem -p NoNewPrivileges -p ProtectHome -p PrivateTmp"
        " -p CapabilityBoundingSet -p ReadWritePaths"
    )
    props = dict(line.split("=", 1) for line in show.splitlines())
    assert props["ProtectSystem"] == "strict"
    assert props["NoNewPrivileges"] == "yes"
    assert props["ProtectHome"] == "yes"
    assert props["PrivateTmp"] == "yes"
    assert props["CapabilityBoundingSet"] == ""
    assert "/etc/redis" not in props["ReadWritePaths"]
    # Redis cannot rewrite the files Ansible manages.
    assert "ERR" in redis(host, "ACL", "SAVE", user="admin")


def test_data_survives_restart(host):
    assert redis(host, "SET", "cache:persist", "kept", user="app") == "OK"
    host.check_output("systemctl restart redis-server")
    host.check_output(
        "for i in $(seq 20); do redis-cli -h 127.0.0.1 PING 2>&1 | grep -q NOAUTH && exit 0; sleep 0.5; done"
    )
    assert redis(host, "GET", "cache:persist", user="app") == "kept"


def converge(extra_vars):
    """Run the scenario's converge.yml again with extra variables; return (rc, output)."""
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            *("-i", str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent)),
            str(Path(__file__).resolve().parents[1] / "converge.yml"),
            *("-e", json.dumps(extra_vars)),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def test_short_or_placeholder_passwords_refused_before_any_change(host):
    acl = host.file("/etc/redis/users.acl").content_string
    short, placeholder = "too-short-pw", "CHANGE-ME-redis-admin-0000"
    rc, out = converge({"redis_celery_password": short, "redis_admin_password": placeholder})
    assert rc != 0
    assert "the password of Redis user celery (redis_<user>_password or its redis_extra_users entry) has 12" in out
    assert "the password of Redis user admin (redis_<user>_password or its redis_extra_users entry) looks like" in out
    assert short not in out
    assert host.file("/etc/redis/users.acl").content_string == acl


def test_new_user_applied_without_restart(host):
    pid = host.check_output("systemctl show redis-server -p MainPID --value")
    password = "reporting-password-for-molecule"
    user = {"name": "reporting", "password": password, "keys": "%R~*", "commands": "+@read +ping"}
    rc, out = converge({"redis_extra_users": [user]})
    assert rc == 0, out
    assert password not in out
    assert host.check_output("systemctl show redis-server -p MainPID --value") == pid, "Redis was restarted"
    assert redis(host, "PING", user="reporting", password=password) == "PONG"
    assert redis(host, "SET", "cache:report", "ready", user="app") == "OK"
    assert redis(host, "GET", "cache:report", user="reporting", password=password) == "ready"
    assert "NOPERM" in redis(host, "SET", "cache:report", "x", user="reporting", password=password)
