"""The lab's connection passes --interactive to podman exec exactly when a module comes on stdin."""

import importlib.util
from pathlib import Path

import pytest
from ansible_collections.containers.podman.plugins.connection import podman as stock

PLUGIN = Path(__file__).resolve().parents[3] / "lab" / "connection_plugins" / "podman_pipelined.py"
SPEC = importlib.util.spec_from_file_location("podman_pipelined", PLUGIN)
podman_pipelined = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(podman_pipelined)


@pytest.fixture
def podman_commands(monkeypatch):
    """The podman sub-commands the stock plugin is asked to run."""
    seen = []

    def record(_self, cmd, cmd_args=None, in_data=None, use_container_id=True):
        seen.append(cmd)
        return 0, b"", b""

    monkeypatch.setattr(stock.Connection, "_podman", record)
    return seen


def test_exec_with_input_is_interactive_and_nothing_else_changes(podman_commands):
    connection = object.__new__(podman_pipelined.Connection)  # _podman needs no play context
    connection._podman(["exec"], ["/bin/sh", "-c", "/usr/bin/python3"], in_data=b"module")
    connection._podman(["exec", "--user", "postgres"], ["/bin/sh", "-c", "/usr/bin/python3"], in_data=b"module")
    connection._podman(["exec"], ["/bin/sh", "-c", "true"])
    connection._podman("mount")
    assert podman_commands == [
        ["exec", "--interactive"],
        ["exec", "--interactive", "--user", "postgres"],
        ["exec"],
        "mount",
    ]


def test_it_declares_pipelining_and_keeps_the_stock_options():
    assert podman_pipelined.Connection.has_pipelining
    assert not stock.Connection.has_pipelining
    assert "name: podman_pipelined" in podman_pipelined.DOCUMENTATION
    for option in ("podman_executable", "podman_extra_args", "remote_addr"):
        assert option in podman_pipelined.DOCUMENTATION
