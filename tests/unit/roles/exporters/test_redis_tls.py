"""The Redis exporter speaks TLS to Redis and verifies it with the CA when the inventory gives one (the redis role's
TLS), and plaintext otherwise: the exporters role's defaults and vars rendered by Ansible's templating."""

from pathlib import Path

import yaml
from test_node_units import render

VARS = Path(__file__).resolve().parents[4] / "roles" / "exporters" / "vars" / "main.yml"

CA_FLAG = "-tls-ca-cert-file=/etc/prometheus/redis-ca.crt"


def args(**host_vars) -> str:
    """The Redis exporter's ARGS (a template inside a mapping of the role's vars, rendered on its own), for Debian
    12's exporter unless the host's variables say otherwise (the release table's redis_exporter_version)."""
    template = yaml.safe_load(VARS.read_text())["_exporters_defaults"]["redis"]["ARGS"]
    host_vars = {"_exporters_redis_version": "1.45", **host_vars}
    return render(template, "exporters", exporters_listen_address="10.0.0.5", **host_vars)


def test_with_the_ca_the_exporter_connects_over_tls_and_verifies():
    given = {"exporters_redis_tls_ca_src": "/inventory/pki/ca.crt", "exporters_enabled": ["node", "redis"]}
    assert "-redis.addr=rediss://127.0.0.1:6379" in args(**given).split()
    assert CA_FLAG in args(**given).split()
    assert render("{{ _exporters_redis_tls | bool }}", "exporters", **given) is True


def test_without_a_ca_plaintext_as_before():
    given = {"exporters_redis_tls_ca_src": "", "exporters_enabled": ["node", "redis"]}
    assert "-redis.addr=redis://127.0.0.1:6379" in args(**given).split()
    assert CA_FLAG not in args(**given)
    assert render("{{ _exporters_redis_tls | bool }}", "exporters", **given) is False


def queue_keys(**host_vars) -> list[str]:
    """The flags of ARGS that name Celery's queues."""
    given = {"exporters_redis_tls_ca_src": "", **host_vars}
    return [flag for flag in args(**given).split() if flag.startswith("-check-")]


def test_the_queues_by_name_except_where_the_exporter_stops_at_a_missing_key():
    by_name = ["-check-single-keys=db1=default,db1=emails,db1=imports,db1=reports"]
    assert queue_keys() == by_name  # Debian 12's 1.45
    assert queue_keys(_exporters_redis_version="1.73") == by_name  # fixed upstream (#1009)
    # 1.69 to 1.72 (Debian 13's 1.69): a glob character in each name makes the exporter SCAN for it.
    by_pattern = ["-check-keys=db1=defaul[t],db1=email[s],db1=import[s],db1=report[s]"]
    assert queue_keys(_exporters_redis_version="1.69") == by_pattern
    assert queue_keys(_exporters_redis_version="1.72") == by_pattern
    other = {"exporters_celery_queues": ["a", "bc"], "exporters_celery_broker_db": 2}
    assert queue_keys(_exporters_redis_version="1.69", **other) == ["-check-keys=db2=[a],db2=b[c]"]
