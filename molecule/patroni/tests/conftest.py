"""The scenario's hosts and the commands the checks of etcd and Patroni share."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import testinfra
import yaml

MEMBERS = {"molecule_ha_db1": "molecule-ha-db1", "molecule_ha_db2": "molecule-ha-db2"}
ETCD_ONLY = "molecule-ha-etcd"
BOUNCER = ETCD_ONLY  # the PgBouncer host, as an app host would be: no database on it
# The etcd role's and the postgresql role's files on the hosts.
ETCD_TLS = "--cacert=/etc/etcd/tls/ca.crt --cert=/etc/etcd/tls/member.crt --key=/etc/etcd/tls/member.key"
CA = "/etc/etcd/tls/ca.crt"  # the scenario's one CA: etcd's members and the data tier share it
RESTAPI_AUTH = "patroni:molecule-restapi-secret-0"
BOUNCER_ADMIN = ("pgbouncer_admin", "molecule-pgbouncer-admin-0")
SHOP = ("shop", "molecule-shop-secret-000")


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

    def sql(self, member, query):
        return self.hosts[member].run(f'runuser -u postgres -- psql -XAtq -d postgres -c "{query}"')

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
