"""Redis answers only its ACL users over TLS, keeps them to their commands, persists data and runs sandboxed.


The Redis host, its users' passwords and the role's re-run come from the `tier` fixture: conftest.py gives the
scenario's instance, tests/lab/test_redis_tier.py the lab's cache1.
"""

import json
import re
import shlex

import pytest

# The CA the role installs on the Redis host beside the server certificate (redis_tls, the default).
CA = "/etc/redis/tls/ca.crt"


def redis(tier, *command, user=None, password=None, db=0, address="127.0.0.1", port=6379, tls=True, cacert=CA):
    """Run redis-cli on the tier's host, over TLS verified with `cacert` unless `tls` is false (a plaintext client).

    The password goes through the environment here (a test's own process); the role sends it over stdin."""
    host = tier.host
    auth = ""
    if user:
        auth = f"REDISCLI_AUTH={shlex.quote(password or tier.passwords[user])} "
        user_option = f"--user {user}"
    else:
        user_option = ""
    tls_options = f"--tls --cacert {shlex.quote(cacert)} " if tls else ""
    words = " ".join(shlex.quote(word) for word in command)
    options = f"{tls_options}-h {address} -p {port} --no-auth-warning {user_option} -n {db}"
    cmd = host.run(f"{auth}redis-cli {options} {words}")
    return (cmd.stdout + cmd.stderr).strip()


def own_address(host):
    return json.loads(host.check_output("ip -4 -j route get 192.0.2.1"))[0]["prefsrc"]


def test_app_user_answers(tier):
    assert redis(tier, "PING", user="app") == "PONG"
    assert redis(tier, "PING", user="app", address=own_address(tier.host)) == "PONG"


def test_no_password_refused(tier):
    assert "NOAUTH" in redis(tier, "PING")
    assert "NOAUTH" in redis(tier, "GET", "x")


def test_default_user_disabled(tier):
    assert "WRONGPASS" in redis(tier, "PING", user="default", password="anything")


def test_wrong_password_refused(tier):
    assert "WRONGPASS" in redis(tier, "PING", user="app", password="not-the-app-password")


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
def test_app_user_denied_dangerous_commands(tier, command):
    # The ACL refuses them, whatever else the server allows (DEBUG is also off for everyone).
    dryrun = redis(tier, "ACL", "DRYRUN", "app", *command, user="admin")
    assert "no permissions" in dryrun
    out = redis(tier, *command, user="app")
    assert "NOPERM" in out or (command[0] == "DEBUG" and "not allowed" in out)


def test_app_user_caches(tier):
    key = f"{tier.cache_prefix}test"
    assert redis(tier, "SET", key, "1", "EX", "60", user="app") == "OK"
    assert redis(tier, "GET", key, user="app") == "1"


def test_celery_user_queues_and_publishes(tier):
    db = tier.celery_probe_db
    assert redis(tier, "DEL", "celery-test-queue", user="celery", db=db) in ("0", "1")
    assert redis(tier, "LPUSH", "celery-test-queue", "task-1", user="celery", db=db) == "1"
    assert redis(tier, "BRPOP", "celery-test-queue", "1", user="celery", db=db).splitlines() == [
        "celery-test-queue",
        "task-1",
    ]
    # kombu's remote control channel for that database, which no worker listens on.
    assert redis(tier, "PUBLISH", f"/{db}.celery.pidbox", "hello", user="celery", db=db) == "0"
    assert "NOPERM" in redis(tier, "FLUSHDB", user="celery", db=db)


def test_settings(tier):
    assert redis(tier, "CONFIG", "GET", "appendonly", user="admin").splitlines() == ["appendonly", "yes"]
    assert redis(tier, "CONFIG", "GET", "appendfsync", user="admin").splitlines() == ["appendfsync", "everysec"]
    assert redis(tier, "CONFIG", "GET", "maxmemory-policy", user="admin").splitlines()[1] == "noeviction"
    assert int(redis(tier, "CONFIG", "GET", "maxmemory", user="admin").splitlines()[1]) > 0
    assert "NOPERM" not in redis(tier, "ACL", "LIST", user="admin")
    # Disabled for everyone, the admin too.
    assert "not allowed" in redis(tier, "DEBUG", "SLEEP", "0", user="admin")


def test_passwords_stored_hashed(tier):
    acl = tier.host.file("/etc/redis/users.acl")
    assert acl.mode == 0o640 and acl.user == "root" and acl.group == "redis"
    for password in tier.passwords.values():
        assert password not in acl.content_string


def test_listens_on_loopback_and_private_address_only(tier):
    listening = [line.split()[3] for line in tier.host.check_output("ss -Htln").splitlines()]
    assert sorted(a for a in listening if a.endswith(":6379")) == sorted(
        ["127.0.0.1:6379", f"{own_address(tier.host)}:6379"]
    )


def test_unit_sandboxed(tier):
    show = tier.host.check_output(
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
    # The sandbox is in force, not only written: Redis runs in a mount namespace of its own with / read-only (a
    # systemd that may not make one starts the unit without it and says so at debug level only; docs/lab.md).
    pid = tier.host.check_output("systemctl show -p MainPID --value redis-server")
    host_namespace, redis_namespace = tier.host.check_output(f"readlink /proc/1/ns/mnt /proc/{pid}/ns/mnt").split()
    assert redis_namespace != host_namespace
    roots = [line.split() for line in tier.host.check_output(f"cat /proc/{pid}/mountinfo").splitlines()]
    assert [fields[5].split(",")[0] for fields in roots if fields[4] == "/"][-1] == "ro"
    # Redis cannot rewrite the files Ansible manages.
    assert "ERR" in redis(tier, "ACL", "SAVE", user="admin")


def test_data_survives_restart(tier):
    key = f"{tier.cache_prefix}persist"
    assert redis(tier, "SET", key, "kept", user="app") == "OK"
    tier.host.check_output("systemctl restart redis-server")
    tier.host.check_output(
        f"for i in $(seq 20); do redis-cli --tls --cacert {CA} -h 127.0.0.1 PING 2>&1 | grep -q NOAUTH && exit 0;"
        " sleep 0.5; done"
    )
    assert redis(tier, "GET", key, user="app") == "kept"


def test_short_or_placeholder_passwords_refused_before_any_change(tier):
    acl = tier.host.file("/etc/redis/users.acl").content_string
    short, placeholder = "too-short-pw", "CHANGE-ME-redis-admin-0000"
    rc, out = tier.converge({"redis_celery_password": short, "redis_admin_password": placeholder})
    assert rc != 0
    assert "the password of Redis user celery (redis_<user>_password or its redis_extra_users entry) has 12" in out
    assert "the password of Redis user admin (redis_<user>_password or its redis_extra_users entry) looks like" in out
    assert short not in out
    assert tier.host.file("/etc/redis/users.acl").content_string == acl


def main_pid(tier):
    return tier.host.check_output("systemctl show redis-server -p MainPID --value")


def test_new_user_applied_and_removed_without_restart(tier):
    pid = main_pid(tier)
    password = "reporting-password-for-molecule"
    user = {"name": "reporting", "password": password, "keys": "%R~*", "commands": "+@read +ping"}
    key = f"{tier.cache_prefix}report"
    try:
        rc, out = tier.converge({"redis_extra_users": [*tier.extra_users, user]})
        assert rc == 0, out
        assert password not in out
        assert main_pid(tier) == pid, "Redis was restarted"
        assert redis(tier, "PING", user="reporting", password=password) == "PONG"
        assert redis(tier, "SET", key, "ready", user="app") == "OK"
        assert redis(tier, "GET", key, user="reporting", password=password) == "ready"
        assert "NOPERM" in redis(tier, "SET", key, "x", user="reporting", password=password)
    finally:
        rc, out = tier.converge({})
    assert rc == 0, out
    assert "WRONGPASS" in redis(tier, "PING", user="reporting", password=password)
    assert main_pid(tier) == pid, "Redis was restarted"


def test_plaintext_connections_refused(tier):
    # No plaintext listener (port 0): a client without TLS gets no Redis reply at all, on either address.
    for address in ("127.0.0.1", own_address(tier.host)):
        out = redis(tier, "PING", user="app", address=address, tls=False)
        assert "PONG" not in out and "NOAUTH" not in out and "WRONGPASS" not in out, out
        assert "PONG" not in redis(tier, "PING", address=address, tls=False)
    assert redis(tier, "CONFIG", "GET", "port", user="admin").splitlines() == ["port", "0"]
    assert redis(tier, "CONFIG", "GET", "tls-port", user="admin").splitlines() == ["tls-port", "6379"]


def test_tls_settings(tier):
    assert redis(tier, "CONFIG", "GET", "tls-protocols", user="admin").splitlines()[1] == "TLSv1.2 TLSv1.3"
    # Clients log in with their passwords; they verify the server, the server does not ask for their certificates.
    assert redis(tier, "CONFIG", "GET", "tls-auth-clients", user="admin").splitlines()[1] == "no"
    key = tier.host.file("/etc/redis/tls/redis.key")
    assert key.user == "root" and key.group == "redis" and key.mode == 0o640


def test_a_client_with_another_ca_fails_verification(tier):
    wrong = "/tmp/webstack-test-wrong-ca"
    tier.host.check_output(
        f"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=not-the-webstack-ca"
        f" -days 1 -keyout {wrong}.key -out {wrong}.crt 2>/dev/null"
    )
    try:
        out = redis(tier, "PING", user="app", cacert=f"{wrong}.crt")
        assert "PONG" not in out
        assert "certificate verify failed" in out, out
        # The same client with the right CA gets in (the failure above is the CA's).
        assert redis(tier, "PING", user="app") == "PONG"
    finally:
        tier.host.run(f"rm -f {wrong}.key {wrong}.crt")


def served_certificate(tier, port=6379):
    """Serial and names of the certificate Redis serves to a new connection (asked on the Redis host)."""
    return tier.host.check_output(
        f"openssl s_client -connect 127.0.0.1:{port} -CAfile {CA} -verify_return_error </dev/null 2>/dev/null"
        " | openssl x509 -noout -serial -ext subjectAltName"
    )


def serial(certificate):
    return re.search(r"serial=(\w+)", certificate).group(1)


def test_a_new_certificate_is_loaded_without_a_restart(tier):
    pid, before = main_pid(tier), served_certificate(tier)
    assert "rotated.example" not in before
    try:
        rc, out = tier.converge({"redis_tls_names": ["rotated.example"]})
        assert rc == 0, out[-3000:]
        after = served_certificate(tier)
        assert "rotated.example" in after, after
        assert serial(after) != serial(before)
        assert main_pid(tier) == pid, "Redis was restarted for a new certificate"
        assert redis(tier, "PING", user="app", address=own_address(tier.host)) == "PONG"
    finally:
        rc, out = tier.converge({})
    assert rc == 0, out[-3000:]
    assert "rotated.example" not in served_certificate(tier)
    assert main_pid(tier) == pid, "Redis was restarted for a new certificate"
