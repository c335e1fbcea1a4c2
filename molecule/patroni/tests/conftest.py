"""The scenario's hosts and the commands the checks of etcd and Patroni share: the playbooks run against the
scenario's instances, and pgbench through PgBouncer."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import testinfra
import yaml

REPO = Path(__file__).resolve().parents[3]
MEMBERS = {"molecule_ha_db1": "molecule-ha-db1", "molecule_ha_db2": "molecule-ha-db2"}
ETCD_ONLY = "molecule-ha-etcd"
BOUNCER = ETCD_ONLY  # the PgBouncer host, as an app host would be: no database on it
# The etcd role's and the postgresql role's files on the hosts.
ETCD_TLS = "--cacert=/etc/etcd/tls/ca.crt --cert=/etc/etcd/tls/member.crt --key=/etc/etcd/tls/member.key"
CA = "/etc/etcd/tls/ca.crt"  # the scenario's one CA: etcd's members and the data tier share it
RESTAPI_AUTH = "patroni:molecule-restapi-secret-0"
BOUNCER_ADMIN = ("pgbouncer_admin", "molecule-pgbouncer-admin-0")
SHOP = ("shop", "molecule-shop-secret-000")
STANZA = "molecule"  # pgBackRest's stanza (molecule.yml's backup_stanza)
# How long an old leader may take to stream again from the new one. The object store is on the etcd-only host: cut off
# from it (the partition drill), a primary's shutdown archives up to its end, its archiver retrying its last segment,
# each pgBackRest archive-push waiting up to archive-timeout (60 s), before the server exits and Patroni restarts it as
# a replica: 62 s to 4 minutes after the cut in the runs of 2026-12-06.
REJOIN_SECONDS = 300
WRITER = "/tmp/member_writer.py"  # postgres runs it on the members: /root is not its to read


def address(host):
    return host.interface("eth0").addresses[0]


def wait_for(check, timeout, interval=1.0):
    """Call check() until it returns something true, at most timeout seconds; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def playbook_command(name: str, *args: str) -> list[str]:
    """ansible-playbook playbooks/NAME against the scenario's instances."""
    return [
        str(Path(sys.executable).parent / "ansible-playbook"),
        *("-i", str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent)),
        str(REPO / "playbooks" / name),
        *args,
    ]


PLAYBOOK_ENV = {"ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}


def playbook(name: str, *args: str, json_output: bool = False, timeout: int = 600) -> tuple[int, str]:
    """ansible-playbook playbooks/NAME against the scenario's instances: (rc, output)."""
    env = {**os.environ, **PLAYBOOK_ENV}
    if json_output:
        env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
    result = subprocess.run(
        playbook_command(name, *args), capture_output=True, text=True, env=env, timeout=timeout, check=False
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


def failed_tasks(output: str) -> list[str]:
    """The failed task results in the json callback's output, "task on host: msg", for an assertion's message."""
    report, _end = json.JSONDecoder().raw_decode(output, output.index("{"))
    return [
        f"{entry['task']['name']} on {host}: {result.get('msg')}"
        for play in report["plays"]
        for entry in play["tasks"]
        for host, result in entry["hosts"].items()
        if result.get("failed")
    ]


class Pgbench:
    """pgbench (the controller's) through PgBouncer in the PgBouncer host's network: 4 clients, 100 transactions a
    second, each one row in a table of its own, each transaction logged (--log); started by the pgbench fixture."""

    def __init__(self, process: subprocess.Popen, seconds: int, log_prefix: Path):
        self.process = process
        self.seconds = seconds
        self.log_prefix = log_prefix

    def commit_times(self) -> list[float]:
        """When each transaction pgbench logged ended (its --log: ... epoch microseconds ...), sorted (after finish)."""
        times = []
        for log in self.log_prefix.parent.glob(f"{self.log_prefix.name}.*"):
            for line in log.read_text().splitlines():
                fields = line.split()
                if len(fields) >= 6 and fields[2] != "failed":
                    times.append(int(fields[4]) + int(fields[5]) / 1e6)
        return sorted(times)

    def longest_pause(self, start: float, end: float) -> float:
        """The longest time between two commits (or from start / to end) in the window start..end (seconds)."""
        times = [start, *(t for t in self.commit_times() if start <= t <= end), end]
        return max(later - earlier for earlier, later in zip(times, times[1:]))

    def running(self) -> bool:
        return self.process.poll() is None

    def finish(self) -> SimpleNamespace:
        """Wait for the end: processed and failed transactions (-1 where pgbench did not say), its output, its rc."""
        out, err = self.process.communicate(timeout=self.seconds + 60)
        failed = int((re.search(r"number of failed transactions: (\d+)", out) or [0, -1])[1])
        processed = int((re.search(r"actually processed: (\d+)", out) or [0, -1])[1])
        return SimpleNamespace(processed=processed, failed=failed, out=out, err=err, rc=self.process.returncode)


class Cluster:
    def __init__(self):
        self.hosts = {name: testinfra.get_host(f"podman://{container}") for name, container in MEMBERS.items()}
        self.containers = MEMBERS
        self.outsider = testinfra.get_host(f"podman://{ETCD_ONLY}")

    def patronictl(self, *args, host=None):
        host = host or next(iter(self.hosts.values()))
        config = host.check_output("ls /etc/patroni/[0-9]*.yml")
        return host.run(f"runuser -u postgres -- patronictl -c {config} {' '.join(args)}")

    def members(self):
        """Patroni's list of members, as patronictl shows it, from whichever member answers."""
        for host in self.hosts.values():
            result = self.patronictl("list", "-f", "json", host=host)
            if result.rc == 0:
                return json.loads(result.stdout)
        return []

    def leader(self):
        leaders = [m["Member"] for m in self.members() if m["Role"] == "Leader" and m["State"] == "running"]
        return leaders[0] if len(leaders) == 1 else None

    def sql(self, member, query, db="postgres"):
        return self.hosts[member].run(f'runuser -u postgres -- psql -XAtq -d {db} -c "{query}"')

    def empty_table(self, member, table, columns):
        """Create table (id bigserial PRIMARY KEY, then columns) in shop on member if missing, owned by shop so that
        writers through PgBouncer may fill it, and empty it."""
        create = self.sql(
            member,
            f"CREATE TABLE IF NOT EXISTS {table} (id bigserial PRIMARY KEY{columns}); ALTER TABLE {table} OWNER TO "
            f"shop; TRUNCATE {table}",
            db="shop",
        )
        assert create.rc == 0, create.stderr

    def streams_from_leader(self, member):
        """The member is a replica whose WAL receiver streams."""
        result = self.sql(member, "SELECT status FROM pg_stat_wal_receiver")
        return result.rc == 0 and result.stdout.strip() == "streaming"

    def api_status(self, member, path, method="GET", auth=None):
        """The HTTP status of a request to a member's REST API, made from the etcd-only host (0: no answer)."""
        target = f"https://{address(self.hosts[member])}:8008{path}"
        credentials = f"-u {auth}" if auth else ""
        result = self.outsider.run(
            f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 3 --cacert {CA} -X {method} {credentials} {target}"
        )
        return int(result.stdout.strip() or 0)

    def dcs_config(self):
        return yaml.safe_load(self.patronictl("show-config").stdout)

    def pgbackrest(self, member, *args):
        return self.hosts[member].run(f"runuser -u postgres -- pgbackrest --stanza={STANZA} {' '.join(args)}")

    def backup_labels(self, member) -> list[str]:
        """The stanza's backups, oldest first, as pgBackRest on the member lists them."""
        info = self.pgbackrest(member, "--output=json", "info")
        assert info.rc == 0, info.stderr
        return [backup["label"] for backup in json.loads(info.stdout)[0]["backup"]]

    def archives(self, member, timeout=90):
        """Write a WAL record and switch the member to a new segment; true once the one holding it is archived. (An
        idle server at a segment's start switches nothing: hence the record.)"""
        write = self.sql(member, "SELECT pg_walfile_name(pg_create_restore_point('webstack archive probe'))")
        segment = write.stdout.strip()
        assert write.rc == 0 and re.fullmatch("[0-9A-F]{24}", segment), write.stdout + write.stderr
        assert self.sql(member, "SELECT pg_switch_wal()").rc == 0

        def archived():
            # Only a segment's name compares: a .history, .partial or .backup file may be the last archived.
            last = self.sql(member, "SELECT last_archived_wal FROM pg_stat_archiver").stdout.strip()
            return re.fullmatch("[0-9A-F]{24}", last) is not None and last >= segment

        return wait_for(archived, timeout)


class Bouncer:
    """PgBouncer on its host, through bouncer_probe.py (copied there; psycopg2 is the pgbouncer role's)."""

    probe = "/root/bouncer_probe.py"

    def __init__(self):
        self.host = testinfra.get_host(f"podman://{BOUNCER}")
        self.container = BOUNCER
        source = Path(__file__).with_name("bouncer_probe.py")
        subprocess.run(["podman", "cp", str(source), f"{BOUNCER}:{self.probe}"], check=True)

    def command(self, action):
        return ["podman", "exec", "-i", self.container, "python3", self.probe, action]

    def run(self, action):
        """The probe's JSON answer to action; the secrets go on its standard input, never on a command line."""
        settings = {"admin": BOUNCER_ADMIN, "shop": SHOP}
        result = subprocess.run(
            self.command(action), input=json.dumps(settings), capture_output=True, text=True, timeout=300, check=False
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def hosts(self):
        """Each database's host, from SHOW DATABASES on the admin console ({} when it does not answer)."""
        return self.run("hosts")

    def write(self):
        """The address of the server that committed a row written through PgBouncer ('' when the write failed)."""
        return self.run("write")["server"]


def start_writer(container: str, table: str, seconds: int, through_pgbouncer: bool = False) -> subprocess.Popen:
    """member_writer.py on the container, writing into table for at most seconds: as postgres to the local server,
    or as shop through the local PgBouncer (the password in podman's environment, never on a command line)."""
    subprocess.run(
        ["podman", "cp", str(Path(__file__).with_name("member_writer.py")), f"{container}:{WRITER}"], check=True
    )
    subprocess.run(["podman", "exec", container, "rm", "-f", "/tmp/member_writer.stop"], check=True)
    env = None
    if through_pgbouncer:
        libpq = ("-e", "PGHOST=127.0.0.1", "-e", "PGPORT=6432", "-e", f"PGUSER={SHOP[0]}", "-e", "PGPASSWORD")
        command = ["podman", "exec", *libpq, container, "python3", WRITER]
        env = {**os.environ, "PGPASSWORD": SHOP[1]}
    else:
        command = ["podman", "exec", container, "runuser", "-u", "postgres", "--", "python3", WRITER]
    return subprocess.Popen([*command, table, str(seconds)], stdout=subprocess.PIPE, text=True, env=env)


def writer_records(container: str, writer: subprocess.Popen) -> dict:
    """Stop a writer start_writer started; its acknowledged commits, unconfirmed ones and errors."""
    subprocess.run(["podman", "exec", container, "touch", "/tmp/member_writer.stop"], check=True)
    return json.loads(writer.communicate(timeout=60)[0])


def set_synchronous(cluster, on: bool) -> None:
    """postgresql_synchronous through site.yml's postgresql role, then Patroni's synchronous standby there or gone."""
    rc, output = playbook(
        "site.yml", "--limit", "postgres", "--tags", "postgresql", "-e", f"postgresql_synchronous={str(on).lower()}"
    )
    assert rc == 0, output[-6000:]
    assert cluster.dcs_config().get("synchronous_mode") is on, cluster.dcs_config()

    def settled() -> bool:
        return any(member["Role"] == "Sync Standby" for member in cluster.members()) is on

    assert wait_for(settled, 60), cluster.members()


@pytest.fixture
def replication(request, cluster):
    """The replication mode of one run of a drill (parametrized, indirect): synchronous is turned on for it and off
    after."""
    synchronous = request.param == "synchronous"
    if synchronous:
        set_synchronous(cluster, True)
    yield request.param
    if synchronous:
        # A drill that failed may leave the old leader shutting down (archiving) for minutes: site.yml wants every
        # member streaming again.
        leader = wait_for(cluster.leader, REJOIN_SECONDS)
        others = [name for name in cluster.hosts if name != leader]
        assert wait_for(lambda: all(cluster.streams_from_leader(name) for name in others), REJOIN_SECONDS)
        set_synchronous(cluster, False)


@pytest.fixture
def pgbench(cluster, tmp_path):
    """Start pgbench through PgBouncer: pgbench(table, seconds) empties table (created on the leader, owned by shop)
    and returns a Pgbench writing one row per transaction into it; killed at the end if still running."""
    started: list[Pgbench] = []

    def start(table: str, seconds: int) -> Pgbench:
        cluster.empty_table(cluster.leader(), table, ", client int NOT NULL")
        script = tmp_path / f"{table}.sql"
        log_prefix = tmp_path / f"{table}-log"
        script.write_text(f"INSERT INTO {table} (client) VALUES (:client_id);\n")
        pid = subprocess.run(
            ["podman", "inspect", "-f", "{{.State.Pid}}", BOUNCER], capture_output=True, text=True, check=True
        ).stdout.strip()
        process = subprocess.Popen(
            [
                *("nsenter", "-t", pid, "-n", "/usr/bin/pgbench", "-n", "-h", "127.0.0.1", "-p", "6432", "-U", SHOP[0]),
                *("-c", "4", "-j", "2", "-R", "100", "-T", str(seconds), "-f", str(script)),
                *("--log", f"--log-prefix={log_prefix}", "shop"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PGPASSWORD": SHOP[1]},
        )
        started.append(Pgbench(process, seconds, log_prefix))
        return started[-1]

    yield start
    for run in started:
        if run.running():
            run.process.kill()
            run.process.communicate()


@pytest.fixture(scope="session")
def bouncer():
    return Bouncer()


@pytest.fixture(scope="session")
def cluster():
    return Cluster()


@pytest.fixture(scope="session")
def etcd_hosts():
    return [testinfra.get_host(f"podman://{name}") for name in [*MEMBERS.values(), ETCD_ONLY]]


@pytest.fixture(scope="session")
def etcd():
    host = testinfra.get_host(f"podman://{ETCD_ONLY}")
    return SimpleNamespace(host=host, address=address(host), tls=ETCD_TLS, ca=CA)


def etcdctl(etcd, *args, endpoints=None):
    """etcdctl on the etcd-only host, with a member's certificate, against endpoints (default: that host's)."""
    endpoint = ",".join(f"https://{a}:2379" for a in endpoints or [etcd.address])
    return etcd.host.check_output(f"etcdctl --endpoints={endpoint} {etcd.tls} {' '.join(args)}")


def etcd_health(etcd, addresses):
    """Each etcd member's health, by address, as etcdctl endpoint health sees it from the etcd-only host."""
    endpoint = ",".join(f"https://{a}:2379" for a in addresses)
    result = etcd.host.run(f"etcdctl --endpoints={endpoint} {etcd.tls} --command-timeout=3s endpoint health -w json")
    answers = json.loads(result.stdout or "[]")
    return {a["endpoint"].split("//")[1].split(":")[0]: bool(a["health"]) for a in answers}


def etcd_status(etcd, addresses) -> dict[str, dict]:
    """Each answering etcd member's status by address: its member id (hex, as etcdctl takes it) and its leader's."""
    endpoints = ",".join(f"https://{a}:2379" for a in addresses)
    result = etcd.host.run(f"etcdctl --endpoints={endpoints} {etcd.tls} --command-timeout=3s endpoint status -w json")
    return {
        status["Endpoint"].split("//")[1].split(":")[0]: {
            "id": f"{status['Status']['header']['member_id']:x}",
            "leader": f"{status['Status']['leader']:x}",
        }
        for status in json.loads(result.stdout or "[]")
    }


def etcd_raft_leader(etcd, addresses) -> str | None:
    """The address of the etcd member that leads the raft now (None: no answer names one)."""
    return next((a for a, s in etcd_status(etcd, addresses).items() if s["id"] == s["leader"]), None)
