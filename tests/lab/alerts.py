"""Prometheus' alerts on the lab's monitoring host (mon1), for the tests that break something and wait for them."""

import json
import shlex
import time

import pytest
from conftest import on_host


def prometheus(path):
    """GET Prometheus' API on mon1 (it listens on mon1's private address only)."""
    script = (
        "import json, socket, sys, urllib.request; "
        "address = socket.gethostbyname(socket.gethostname()); "
        f"sys.stdout.write(urllib.request.urlopen('http://%s:9090{path}' % address, timeout=10).read().decode())"
    )
    return json.loads(on_host("mon1", f"python3 -c {shlex.quote(script)}"))["data"]


def firing(alertname, **labels):
    return [
        alert
        for alert in prometheus("/api/v1/alerts")["alerts"]
        if alert["labels"]["alertname"] == alertname
        and alert["state"] == "firing"
        and all(alert["labels"].get(key) == value for key, value in labels.items())
    ]


def wait_for(what, check, timeout, step=2):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(step)
