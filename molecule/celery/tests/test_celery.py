"""The celery role runs one sandboxed worker per queue and one beat, and a restart loses no task."""

import os
import shlex
import subprocess
import time
import uuid
from pathlib import Path

import pytest

SCENARIO = Path(__file__).resolve().parents[1]
PROJECT = SCENARIO.parents[1]

# Runs a snippet as the app sees it: the app user, the env file loaded by systemd.
AS_APP = (
    "systemd-run --wait --pipe --quiet --collect -p User=shop -p Group=shop "
    "-p EnvironmentFile=/srv/shop/shared/app.env /srv/shop/current/venv/bin/python -c "
)


def sql(host, query):
    return host.check_output(f"runuser -u postgres -- psql -d shop -Atc {shlex.quote(query)}")


def send(host, snippet):
    return host.check_output(AS_APP + shlex.quote(snippet))


def wait_for(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(1)
    return predicate()


def test_one_active_sandboxed_unit_per_queue(host, tier):
    for queue in tier.queues:
        unit = f"celery-{queue}.service"
        props = dict(
            line.split("=", 1)
            for line in host.check_output(
                f"systemctl show -p ActiveState,User,NoNewPrivileges,ProtectSystem,KillMode,KillSignal,"
                f"TimeoutStopUSec,CapabilityBoundingSet {unit}"
            ).splitlines()
        )
        assert props["ActiveState"] == "active", unit
        assert props["User"] == "shop"
        assert props["NoNewPrivileges"] == "yes" and props["ProtectSystem"] == "strict"
        assert props["CapabilityBoundingSet"] == ""
        # Warm shutdown: SIGTERM to the main process only, and longer than the longest task.
        assert props["KillMode"] == "mixed" and props["KillSignal"] == "15"
        assert props["TimeoutStopUSec"] == tier.stop_timeout
    workers = host.check_output("ps -eo user=,args= | grep '[c]elery -A shop.celery_app:app worker'")
    assert {line.split()[0] for line in workers.splitlines()} == {"shop"}
    # -n default@%%h in the unit: systemd passes %h on, Celery puts in the host name.
    assert f"default@{tier.hostname} ready" in host.check_output("journalctl -u celery-default --no-pager -o cat")


def test_exactly_one_beat_with_its_schedule_in_the_state_directory(host):
    assert host.service("celery-beat.service").is_running
    assert host.check_output("systemctl show -p StateDirectory --value celery-beat.service") == "shop/celery-beat"
    assert host.check_output("pgrep -fc '[c]elery -A shop.celery_app:app beat'") == "1"
    state = host.file("/var/lib/shop/celery-beat")
    assert state.user == "shop" and state.mode == 0o750
    assert any(name.startswith("celerybeat-schedule") for name in state.listdir())


def test_units_of_unlisted_queues_are_gone(host):
    assert not host.file("/etc/systemd/system/celery-legacy.service").exists
    assert host.run("systemctl is-active celery-legacy.service").stdout.strip() != "active"


def test_env_file_protected_and_secret_not_leaked(host, tier):
    env = host.file("/srv/shop/shared/app.env")
    assert env.mode == 0o640 and env.user == "root" and env.group == "shop"
    for name, value in tier.app_env.items():
        assert f'{name}="{value}"' in env.content_string
    assert tier.db_password not in host.check_output("systemctl show celery-default.service celery-beat.service")
    assert tier.db_password not in host.check_output("journalctl -u 'celery-*' --no-pager -o cat")


def test_confirm_order_runs_through_two_queues(host, tier):
    order_id = sql(tier.database, "INSERT INTO orders (customer) VALUES ('molecule') RETURNING id").splitlines()[0]
    send(host, f"from shop.tasks import confirm_order; confirm_order.delay({order_id})")
    # confirm_order runs on queue default, then queues send_order_email on queue emails.
    assert wait_for(
        lambda: sql(tier.database, f"SELECT count(*) FROM email_outbox WHERE order_id = {order_id}") == "1", 30
    )
    assert sql(tier.database, f"SELECT status FROM orders WHERE id = {order_id}") == "confirmed"
    assert sql(tier.database, f"SELECT count(*) FROM confirmations WHERE order_id = {order_id}") == "1"


def test_restart_mid_task_finishes_the_task_once(host, tier):
    token = f"molecule-{uuid.uuid4()}"
    task_id = send(host, f"from shop.tasks import slow_task; print(slow_task.delay(8, {token!r}).id)").strip()
    received = f"slow_task[{task_id}] received"
    assert wait_for(lambda: received in host.check_output("journalctl -u celery-default --no-pager -o cat"), 15)
    started = time.monotonic()
    host.check_output("systemctl restart celery-default.service")
    # The stop waited for the running task (warm shutdown): its row is there as the restart returns.
    assert time.monotonic() - started >= 3
    assert sql(tier.database, f"SELECT executions FROM task_runs WHERE token = '{token}'") == "1"
    assert host.service("celery-default.service").is_running
    # And the message was acknowledged: nothing runs it a second time.
    time.sleep(5)
    assert sql(tier.database, f"SELECT executions FROM task_runs WHERE token = '{token}'") == "1"


def test_a_batch_survives_a_restart_of_every_worker_and_runs_each_task_once(host, tier):
    batch = f"batch-{uuid.uuid4().hex[:8]}"
    tokens = [f"{batch}-{n:02d}" for n in range(20)]
    # 20 tasks of 1.5 s on queue default (concurrency 2): about 15 s of work.
    send(host, f"from shop.tasks import slow_task\nfor token in {tokens!r}: slow_task.delay(1.5, token)")

    def finished():
        return int(sql(tier.database, f"SELECT count(*) FROM task_runs WHERE token LIKE '{batch}-%'"))

    assert wait_for(lambda: finished() >= 2, 20), "the batch did not start"
    host.check_output("systemctl restart " + " ".join(f"celery-{queue}.service" for queue in tier.queues))
    done_at_restart = finished()
    assert done_at_restart < len(tokens), "the batch ended before the restart; make the tasks longer"
    assert wait_for(lambda: finished() == len(tokens), 60), f"only {finished()} of {len(tokens)} tasks finished"
    time.sleep(3)  # a task delivered twice would show up now
    runs = sql(tier.database, f"SELECT token, executions FROM task_runs WHERE token LIKE '{batch}-%' ORDER BY token")
    assert runs.splitlines() == [f"{token}|1" for token in tokens]


def preflight(*extra):
    """The role against an inventory of local hosts, in check mode; the preflight must stop it."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(PROJECT / ".cache" / "collections"), ANSIBLE_FORCE_COLOR="0")
    return subprocess.run(
        ["ansible-playbook", "--check", "-i", "inventory.yml", "playbook.yml", *extra],
        cwd=SCENARIO / "preflight",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("extra", "expected"),
    [((), "2 do: worker-a, worker-b"), (("-e", "celery_beat=false"), "None does")],
    ids=["two-beats", "no-beat"],
)
def test_preflight_refuses_other_than_one_beat(extra, expected):
    result = preflight(*extra)
    output = " ".join((result.stdout + result.stderr).split())  # the callback may wrap long lines
    assert result.returncode == 2, output
    assert expected in output
    assert "Check that exactly one host runs beat" in output
    # Nothing after the preflight ran.
    assert "Install the virtualenv support" not in output


def test_units_carry_time_and_memory_limits(host, tier):
    # Queue default: 2 pool processes x 512 MiB + 256.
    command = host.check_output("systemctl show -p ExecStart --value celery-default.service")
    assert f"--soft-time-limit {tier.soft_time_limit} --time-limit {tier.time_limit}" in command
    assert "--max-memory-per-child 524288" in command
    assert host.check_output("systemctl show -p MemoryMax --value celery-default.service") == str(1280 * 2**20)
    assert host.check_output("systemctl show -p TasksMax --value celery-default.service") == "256"
    assert host.check_output("systemctl show -p MemoryMax --value celery-beat.service") == str(256 * 2**20)


def test_a_task_past_its_time_limit_is_stopped_and_never_runs_again(host, tier):
    token = f"molecule-{uuid.uuid4()}"
    task_id = send(host, f"from shop.tasks import slow_task; print(slow_task.delay(45, {token!r}).id)").strip()
    journal = "journalctl -u celery-default --no-pager -o cat"
    assert wait_for(lambda: f"slow_task[{task_id}] raised" in host.check_output(journal), 60)
    assert "SoftTimeLimitExceeded" in host.check_output(f"{journal} | grep -F {task_id}")
    # Acknowledged as failed: it is not handed to another worker, and its work never happened.
    time.sleep(5)
    assert sql(tier.database, f"SELECT count(*) FROM task_runs WHERE token = '{token}'") == "0"
