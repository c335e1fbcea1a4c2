"""playbooks/switchover.yml in Patroni mode: a bad target is refused before anything is paused, failover.yml refuses
the cluster, and a switchover under pgbench through PgBouncer fails no transaction, makes the target the leader and
the old leader its streaming replica. The pause and pgbench's failed count are printed; the pause is not under 1 s yet
(an expected failure, below). Runs after test_pgbouncer_follow.py, on whatever it left leading."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import BOUNCER, SHOP, address, wait_for

REPO = Path(__file__).resolve().parents[3]
# The playbook took 15 s in this scenario (2026-12-05); pgbench must outlast it (checked).
PGBENCH_SECONDS = 60
# What the switchover under pgbench measured, for the pause's own test below.
MEASURED: dict = {}


def playbook(name: str, *args: str, json_output: bool = False) -> tuple[int, str]:
    """ansible-playbook playbooks/NAME against the scenario's instances: (rc, output)."""
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
    if json_output:
        env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            *("-i", str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent)),
            str(REPO / "playbooks" / name),
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def task_results(output: str, task: str) -> list[dict]:
    """The results of the task named task, per host, from the json callback's output (profile_tasks' recap and
    warnings may follow it)."""
    report, _end = json.JSONDecoder().raw_decode(output, output.index("{"))
    return [
        result
        for play in report["plays"]
        for entry in play["tasks"]
        if entry["task"]["name"].split(" : ")[-1] == task  # a role's task: "<role> : <name>"
        for result in entry["hosts"].values()
    ]


def inventory_name(cluster, patroni_name: str) -> str:
    return cluster.containers[patroni_name]  # the containers are named as the inventory names them


def test_a_target_that_is_not_a_member_is_refused_before_anything_is_paused(cluster, bouncer):
    leader = cluster.leader()
    rc, output = playbook("switchover.yml", "-e", "switchover_target=molecule-ha-db9")
    assert rc != 0, output
    assert "No switchover, nothing was changed: molecule-ha-db9 is not a member of group 'postgres'" in output
    assert "Launch PAUSE" not in output and "Launch the switchover" not in output
    assert cluster.leader() == leader


def test_failover_yml_refuses_a_patroni_cluster(cluster):
    leader = cluster.leader()
    rc, output = playbook("failover.yml")
    assert rc != 0, output
    assert "would act behind Patroni's back on molecule-ha-db1, molecule-ha-db2 (postgresql_ha: patroni)" in output
    assert "Patroni promotes a standby by itself" in output and "Nothing was changed." in output
    assert cluster.leader() == leader


@pytest.fixture
def pgbench(cluster, tmp_path):
    """pgbench (the controller's) through PgBouncer in the PgBouncer host's network: 4 clients, 100 transactions a
    second, each one row in switchover_probe; yields the running process."""
    leader = cluster.leader()
    create = cluster.hosts[leader].run(
        "runuser -u postgres -- psql -XAtq -d shop -v ON_ERROR_STOP=1 -c "
        '"CREATE TABLE IF NOT EXISTS switchover_probe (id bigserial PRIMARY KEY, client int NOT NULL); '
        'ALTER TABLE switchover_probe OWNER TO shop; TRUNCATE switchover_probe"'
    )
    assert create.rc == 0, create.stderr
    script = tmp_path / "insert.sql"
    script.write_text("INSERT INTO switchover_probe (client) VALUES (:client_id);\n")
    pid = subprocess.run(
        ["podman", "inspect", "-f", "{{.State.Pid}}", BOUNCER], capture_output=True, text=True, check=True
    ).stdout.strip()
    process = subprocess.Popen(
        [
            *("nsenter", "-t", pid, "-n", "/usr/bin/pgbench", "-n", "-h", "127.0.0.1", "-p", "6432", "-U", SHOP[0]),
            *("-c", "4", "-j", "2", "-R", "100", "-T", str(PGBENCH_SECONDS), "-f", str(script), "shop"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PGPASSWORD": SHOP[1]},
    )
    yield process
    if process.poll() is None:
        process.kill()
        process.communicate()


def test_switchover_under_pgbench_fails_no_transaction(cluster, bouncer, pgbench):
    old = cluster.leader()
    new = next(name for name in cluster.hosts if name != old)
    assert wait_for(lambda: cluster.streams_from_leader(new), 60), cluster.members()
    time.sleep(3)  # pgbench writes through PgBouncer before anything starts
    started = time.monotonic()
    rc, output = playbook("switchover.yml", "-e", f"switchover_target={inventory_name(cluster, new)}", json_output=True)
    seconds = time.monotonic() - started
    still_writing = pgbench.poll() is None
    out, err = pgbench.communicate(timeout=PGBENCH_SECONDS + 60)
    failed = int((re.search(r"number of failed transactions: (\d+)", out) or [0, -1])[1])
    processed = int((re.search(r"actually processed: (\d+)", out) or [0, -1])[1])
    count = cluster.hosts[new].run(
        'runuser -u postgres -- psql -XAtq -d shop -c "SELECT count(*) FROM switchover_probe"'
    )
    rows = int(count.stdout.strip() or -1)
    print(
        f"\npgbench through PgBouncer: {processed} transactions, {failed} failed, {rows} rows on {new}; the playbook "
        f"took {seconds:.0f} s and ended {'while pgbench still wrote' if still_writing else 'after pgbench'}"
    )
    assert rc == 0, output[-6000:]
    report = task_results(output, "Report the switchover")[0]["msg"]
    pause_ms = {host: int(ms) for host, ms in report["pause_ms"].items()}
    MEASURED.update(pause_ms=pause_ms, promote=report["promote_timings_ms"])
    print(
        f"switchover.yml through Patroni, {old} -> {new}: PgBouncer paused {pause_ms} ms; bouncer timings "
        f"{report['bouncer_timings_ms']}, promote timings {report['promote_timings_ms']}; playbook {seconds:.0f} s"
    )
    assert still_writing, "pgbench ended before the playbook: the switch was not made under load"
    assert pgbench.returncode == 0 and "aborted" not in out + err, out + err
    assert failed == 0 and processed > 0 and rows == processed, out
    assert cluster.leader() == new, cluster.members()
    assert bouncer.hosts().get("shop") == address(cluster.hosts[new])
    # The old leader streams from the new one.
    assert wait_for(lambda: cluster.streams_from_leader(old), 60), cluster.members()
    sender = cluster.sql(old, "SELECT sender_host FROM pg_stat_wal_receiver").stdout.strip()
    assert sender == address(cluster.hosts[new])


@pytest.mark.xfail(
    strict=True,
    reason="Patroni's own switch, from POST /switchover until the target takes writes, took 1.7 s here (2026-12-05, "
    "1.9 s pause), a fixed 1 s sleep before Patroni releases the leader key included: above the 1 s target, which "
    "the manual mode meets; see roles/switchover/README.md",
)
def test_pgbouncer_paused_under_a_second():
    """The design's target for a planned switchover (PgBouncer's pause under 1 s), from the switchover above. Marked
    as expected to fail until the Patroni mode meets it; strict, so that meeting it turns this red until unmarked."""
    assert MEASURED, "the switchover under pgbench measured nothing (it failed)"
    assert max(MEASURED["pause_ms"].values()) < 1000, MEASURED
