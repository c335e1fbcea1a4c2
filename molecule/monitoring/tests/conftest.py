"""The scenario's monitoring and Redis hosts, for the checks in test_monitoring.py."""

import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import testinfra

REFUSALS = Path(__file__).resolve().parents[1] / "refusals.yml"


def refusals(*args: str) -> tuple[int, str]:
    """ansible-playbook refusals.yml against the scenario's instances with these arguments: (rc, output)."""
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    env.setdefault("ANSIBLE_CONFIG", str(Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "ansible.cfg"))
    result = subprocess.run(
        ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], *args, str(REFUSALS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="session")
def tier():
    mon, cache = "molecule-monitoring-mon", "molecule-monitoring-cache"
    return SimpleNamespace(
        # Names the measurements written to .cache/logs.
        name="molecule-monitoring",
        mon=testinfra.get_host(f"podman://{mon}"),
        cache=testinfra.get_host(f"podman://{cache}"),
        cache_instance=cache,
        targets={("prometheus", mon), ("alertmanager", mon), ("node", mon), ("node", cache), ("redis", cache)},
        # Prometheus, Alertmanager and the exporters, by container.
        listening_ports={mon: [9090, 9093, 9100, 9115], cache: [9100, 9121]},
        # Only the exporters exporter_metrics.yml marks `checked_in: molecule/monitoring` run here.
        runs_every_exporter=False,
        refusals=refusals,
    )


@pytest.fixture(scope="module")
def waiting_tasks(tier):
    """Three stand-in tasks waiting in `imports` (no worker runs here to take them), the other queues empty: the
    tasks each queue holds. An empty queue is no key in Redis, and Debian 13's Redis exporter gives it no
    redis_key_size. Put in Celery's broker database as the scenario's Redis admin (molecule.yml's password)."""
    queues = {"default": 0, "emails": 0, "imports": 3, "reports": 0}

    def redis(*words):
        tier.cache.check_output(
            "REDISCLI_AUTH=admin-password-for-molecule redis-cli --tls --cacert /etc/redis/tls/ca.crt -h 127.0.0.1"
            f" --no-auth-warning --user admin -n 1 {' '.join(words)}"
        )

    redis("DEL", *queues)
    redis("RPUSH", "imports", "task-1", "task-2", "task-3")
    yield queues
    redis("DEL", *queues)


@pytest.fixture(scope="session")
def host(tier):
    """The monitoring host, where the checks ask Prometheus and Alertmanager."""
    return tier.mon
