"""Tests against the running lab (./dev lab); `./dev test` brings it up before them."""

import fcntl
import importlib.util
import json
import os
import re
import runpy
import shlex
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def lab_is_up():
    listing = subprocess.run(
        ["podman", "ps", "--filter", "label=opsforge.lab=webstack", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return "lab-lb1" in listing.stdout.split()


@pytest.fixture(scope="session", autouse=True)
def lab():
    if not lab_is_up():
        pytest.skip("the lab is not up: run ./dev lab first")


# Every playbook a test runs, its whole output (the task profile at its end): where the lab tests spend their time.
PLAYBOOK_LOGS = REPO / ".cache" / "logs" / "lab-playbooks"


def pytest_sessionstart():
    # `./dev test` runs two streams of lab tests side by side and clears the logs before both start.
    if not os.environ.get("WEBSTACK_LAB_STREAM"):
        shutil.rmtree(PLAYBOOK_LOGS, ignore_errors=True)
    PLAYBOOK_LOGS.mkdir(parents=True, exist_ok=True)


# `./dev test` runs the lab tests in two pytest processes side by side. Each module says in LAB_USES which parts of
# the lab it changes or stops ("exclusive": no other module uses them meanwhile) and which it only needs working
# ("shared"); a module that says nothing has the whole lab to itself. The parts:
#   app          the load balancer, app servers and Celery workers: their releases, units and rotation
#   database     PostgreSQL reachable through every PgBouncer (exclusive: a failover, a PgBouncer stopped or moved)
#   primary      which member is the primary and how the members are configured (a switchover is zero-error, so it
#                takes this one exclusive and the database shared)
#   backup       pgBackRest's stanza, its repository on the object store and the WAL archive
#   drill        the scratch host drill1, which restores and drills overwrite
#   cache        Redis reachable (exclusive: Redis stopped)
#   cache_config Redis' users, certificates and settings
#   monitoring   the alerts Prometheus fires
# A module holds its parts from its first test to its last. Each process takes them in one order, so two modules
# never wait on each other; what a module waited is written to .cache/logs/lab-locks.log.
LAB_PARTS = ("app", "backup", "cache", "cache_config", "database", "drill", "monitoring", "primary")
LAB_LOCKS = REPO / ".cache" / "lab-locks"


@pytest.fixture(scope="module", autouse=True)
def lab_parts(request):
    uses = getattr(request.module, "LAB_USES", dict.fromkeys(LAB_PARTS, "exclusive"))
    wrong = {part: how for part, how in uses.items() if part not in LAB_PARTS or how not in ("exclusive", "shared")}
    assert not wrong, f"{request.module.__name__}.LAB_USES: {wrong} (parts: {LAB_PARTS}; exclusive or shared)"
    LAB_LOCKS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    held = []
    try:
        for part in sorted(uses):
            lock = (LAB_LOCKS / f"{part}.lock").open("a")
            held.append(lock)
            fcntl.flock(lock, fcntl.LOCK_EX if uses[part] == "exclusive" else fcntl.LOCK_SH)
        waited = time.monotonic() - started
        parts = {how: ", ".join(part for part in sorted(uses) if uses[part] == how) for how in ("exclusive", "shared")}
        with (REPO / ".cache" / "logs" / "lab-locks.log").open("a") as log:
            log.write(
                f"{time.strftime('%H:%M:%S')} {request.module.__name__} waited {waited:.0f} s"
                f" (exclusive: {parts['exclusive'] or '-'}; shared: {parts['shared'] or '-'})\n"
            )
        yield
    finally:
        for lock in held:
            lock.close()


def changed_total(output):
    """The changed tasks of every host in a playbook's recap."""
    return sum(int(n) for n in re.findall(r"changed=(\d+)", output))


def playbook(*args, timeout=900):
    """Run ansible-playbook from the repository with its configuration; return (rc, output)."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "lab" / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0"}
    started = time.monotonic()
    result = subprocess.run(
        ["ansible-playbook", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = result.stdout + result.stderr
    seconds = time.monotonic() - started
    test = os.environ.get("PYTEST_CURRENT_TEST", "outside-a-test").split(" ")[0].rsplit("/", 1)[-1]
    with (PLAYBOOK_LOGS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', test)}.log").open("a") as log:
        log.write(f"$ ansible-playbook {shlex.join(args)}\n# rc {result.returncode} in {seconds:.1f} s\n")
        log.write(output + "\n")
    return result.returncode, output


def failure(output):
    """A failed playbook's failed tasks (their lines: the module's message) and the end of its output, for an
    assertion's message: the end alone is the recap, which names no failure."""
    failed = [line for line in output.splitlines() if line.startswith(("fatal:", "failed:")) or "FAILED!" in line]
    return "\n".join(failed)[-6000:] + "\n[...]\n" + output[-2000:]


def site_load():
    """The deploy benchmark's load generator (tests/benchmarks/deploy_under_load.py) against lb1, paced for the tests:
    4 threads, each sending a request at most every 100 ms, to show that the site serves while a playbook runs. (The
    benchmark sends them back to back and counts the failures; here they would take CPU from the other stream: every
    50 ms, the lab spent 11.3 CPU-s in 20 s on them, every 100 ms 4.8, idle 2.9; 2026-12-06.)"""
    spec = importlib.util.spec_from_file_location("load", REPO / "tests" / "benchmarks" / "deploy_under_load.py")
    load = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(load)
    return load.Load("10.77.0.10", threads=4, interval=0.1)


def on_host(host, command):
    return subprocess.run(
        ["podman", "exec", f"lab-{host}", "sh", "-c", command], capture_output=True, text=True, check=True
    ).stdout.strip()


# What each Debian release brings (the collection's one table, plugins/module_utils/debian_releases.py).
RELEASES = runpy.run_path(str(REPO / "plugins" / "module_utils" / "debian_releases.py"))["RELEASES"]


def pg_version(host):
    """The PostgreSQL major version of a lab host's Debian release (15 on bookworm, 17 on trixie)."""
    return RELEASES[on_host(host, ". /etc/os-release && echo $VERSION_CODENAME")]["postgresql_version"]


def scratch_data_stamp():
    """The scratch host's PG_VERSION file, with its time: unchanged when nothing touched the host's data directory."""
    path = f"/var/lib/postgresql/{pg_version('drill1')}/main/PG_VERSION"
    return on_host("drill1", f"ls -l --time-style=+%s {path} 2>&1 || true")


def only_report(directory, kind="restore"):
    """The one report a DR drill of KIND wrote to DIRECTORY (its JSON, with the Markdown beside it), parsed."""
    reports = sorted(directory.glob(f"dr-{kind}-*.json"))
    assert len(reports) == 1, reports
    assert reports[0].with_suffix(".md").exists()
    return json.loads(reports[0].read_text())


def release_of(host):
    """The release an app server runs, asked of the server itself."""
    body = on_host(host, "curl -s http://$(hostname -I | cut -d' ' -f1):8000/healthz")
    return json.loads(body)["release"]


def psql(host, query):
    """One query as the postgres user on a database host; its rows, unaligned."""
    return on_host(host, f"runuser -u postgres -- timeout 60 psql -XAtqc {shlex.quote(query)} 2>/dev/null || echo down")


def primary():
    """The database host that is not in recovery."""
    return next(host for host in ("db1", "db2") if psql(host, "SELECT pg_is_in_recovery()") == "f")


PAUSED_CHECK = """python3 -c '
import psycopg2
connection = psycopg2.connect(host="127.0.0.1", port=6432, dbname="pgbouncer", user="pgbouncer_admin",
                              password="lab-pgbouncer-admin-0001")
connection.autocommit = True
cursor = connection.cursor()
cursor.execute("SHOW DATABASES")
names = [column.name for column in cursor.description]
print(sum(row[names.index("paused")] for row in cursor.fetchall()))
'"""


def pools_paused(host="app1"):
    """Whether any database of the PgBouncer on the host is paused."""
    return on_host(host, PAUSED_CHECK) != "0"


# Writers on app1, through its PgBouncer, until a stop file appears; then the committed and failed counts.
# Each writer waits PACE seconds after each insert: about 330 inserts a second in all, enough to see a failed or lost
# commit in a pause of 100 ms. Back to back, the four took the lab's two cores (2,300 inserts a second on the quiet
# lab, 37 CPU-s in 20 s, against 9.4 CPU-s paced; 2026-12-06), which the other stream's tests wait for.
WRITER = """
import os, sys, threading, time, psycopg2

STOP = "/run/webstack-switchover-writes.stop"
PACE = 0.01
counts = []

def write(client):
    done = counts[client]
    connection = None
    while not os.path.exists(STOP):
        try:
            if connection is None:
                connection = psycopg2.connect(host="127.0.0.1", port=6432, dbname="shop", user="shop",
                                              password=os.environ["PGPASSWORD"], connect_timeout=30)
                connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute("INSERT INTO switchover_writes (client) VALUES (%s)", (client,))
            done["committed"] += 1
            time.sleep(PACE)
        except psycopg2.Error as error:
            done["failed"] += 1
            print(f"client {client}: {error}".strip(), file=sys.stderr)
            connection = None

for client in range(4):
    counts.append({"committed": 0, "failed": 0})
threads = [threading.Thread(target=write, args=(client,)) for client in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(sum(c["committed"] for c in counts), sum(c["failed"] for c in counts))
"""


def shop_sql(host, query):
    """One statement in the shop database, as the postgres user on a database host; its rows, unaligned."""
    return on_host(host, f"runuser -u postgres -- psql -XAtq -v ON_ERROR_STOP=1 -d shop -c {shlex.quote(query)}")


@contextmanager
def writes_through_pgbouncer():
    """4 writers inserting a row each time through app1's PgBouncer while the block runs; then how many inserts were
    acknowledged (committed), how many failed (with their errors) and how many rows the primary holds (rows)."""
    password = yaml.safe_load((REPO / "inventories" / "lab" / "group_vars" / "all.yml").read_text())[
        "webstack_lab_shop_db_password"
    ]
    shop_sql(
        primary(),
        "CREATE TABLE switchover_writes (id bigserial PRIMARY KEY, client int NOT NULL); "
        "ALTER TABLE switchover_writes OWNER TO shop",
    )
    writers = subprocess.Popen(
        ["podman", "exec", "-i", "-e", f"PGPASSWORD={password}", "lab-app1", "python3", "-c", WRITER],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    result = SimpleNamespace(committed=0, failed=0, rows=0, errors="")
    try:
        yield result
    finally:
        on_host("app1", "touch /run/webstack-switchover-writes.stop")
        out, result.errors = writers.communicate(timeout=120)
        on_host("app1", "rm -f /run/webstack-switchover-writes.stop")
        if len(out.split()) == 2:
            result.committed, result.failed = map(int, out.split())
        result.rows = int(shop_sql(primary(), "SELECT count(*) FROM switchover_writes"))
        shop_sql(primary(), "DROP TABLE switchover_writes")


# ---- the job templates of awx/controller.yml, run as AWX runs them (test_awx_jobs, test_awx_data_jobs)

_AWXJOB = importlib.util.spec_from_file_location("awxjob", REPO / "lab" / "awxjob.py")
awxjob = importlib.util.module_from_spec(_AWXJOB)
_AWXJOB.loader.exec_module(awxjob)

AWX_CONTROLLER = yaml.safe_load((REPO / "awx" / "controller.yml").read_text())
AWX_TEMPLATES = {template["name"]: template for template in AWX_CONTROLLER["controller_templates"]}
AWX_SCHEDULES = {schedule["name"]: schedule for schedule in AWX_CONTROLLER["controller_schedules"]}


@pytest.fixture(scope="module")
def awx_inventory():
    """The lab's inventory as AWX imports it, with the paths it takes from its own directory made absolute (an
    imported inventory has no directory)."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "lab" / "ansible.cfg")}
    exported = subprocess.run(
        ["ansible-inventory", "--list", "--export"], cwd=REPO, env=env, capture_output=True, text=True, check=True
    ).stdout
    exported = exported.replace("{{ inventory_dir }}/../..", str(REPO))
    assert "inventory_dir" not in exported
    return json.loads(exported)


@pytest.fixture(scope="module")
def awx_tarball(tmp_path_factory):
    return awxjob.build_collection(REPO, tmp_path_factory.mktemp("dist"))


@pytest.fixture
def launch(tmp_path, awx_tarball, awx_inventory):
    """launch(template name, job id, **options): the job's result, run as AWX runs it (lab/awxjob.py)."""

    def run(name, job_id, **kwargs):
        return awxjob.launch(
            AWX_TEMPLATES[name],
            project=REPO,
            collection_tarball=awx_tarball,
            inventory=awx_inventory,
            base=tmp_path,
            job_id=job_id,
            # the lab's Machine credential: the hosts' admin user (root has no SSH login there)
            ssh_user="admin",
            **kwargs,
        )

    return run


def awx_results(job, event, task):
    """The event data of a job's events of one kind for one task."""
    return [e["event_data"] for e in job["events"] if e.get("event") == event and e["event_data"]["task"] == task]


def awx_unclean(recap):
    """Hosts that failed or were unreachable (none, for a clean job)."""
    return {host: counts for host, counts in recap.items() if counts["failures"] or counts["dark"]}


def assert_awx_refused(job, refusal):
    """The job failed with refusal among its failure messages, and no task changed anything."""
    assert job["status"] == "failed"
    assert [message for message in awxjob.failure_messages(job["events"]) if refusal in message], job["stdout"][-3000:]
    changed = [e["event_data"]["task"] for e in job["events"] if e.get("event_data", {}).get("res", {}).get("changed")]
    assert changed == []
