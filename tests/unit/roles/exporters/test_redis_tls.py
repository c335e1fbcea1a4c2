"""The Redis exporter speaks TLS to Redis and verifies it with the CA when the inventory gives one (the redis role's
TLS), and plaintext otherwise: the exporters role's defaults and vars rendered by Ansible's templating."""

from pathlib import Path

import yaml
from test_node_units import render

VARS = Path(__file__).resolve().parents[4] / "roles" / "exporters" / "vars" / "main.yml"

CA_FLAG = "-tls-ca-cert-file=/etc/prometheus/redis-ca.crt"


def args(**host_vars) -> str:
    """The Redis exporter's ARGS (a template inside a mapping of the role's vars, rendered on its own)."""
    template = yaml.safe_load(VARS.read_text())["_exporters_defaults"]["redis"]["ARGS"]
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
