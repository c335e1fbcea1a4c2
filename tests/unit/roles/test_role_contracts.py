"""Roles keep their contracts: playbooks do not re-type role defaults, python_app is internal,
uvicorn and celery map python_app's inputs once and read only its one result."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
ROLES = ROOT / "roles"
DEFAULTED = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\|\s*default\(")


def _role_defaults():
    names = set()
    for path in ROLES.glob("*/defaults/main.yml"):
        names |= set(yaml.safe_load(path.read_text()) or {})
    return names


def _strings(node, key=None):
    """(key, string) for every string in a loaded YAML document, with the mapping key that holds it."""
    if isinstance(node, dict):
        for name, value in node.items():
            yield from _strings(value, name)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item, key)
    elif isinstance(node, str):
        yield key, node


def test_no_playbook_types_a_role_default_again():
    """A role's default applies inside the role; a host pattern is the one place a playbook may name a fallback."""
    defaults = _role_defaults()
    retyped = []
    for path in sorted((ROOT / "playbooks").glob("*.yml")):
        for key, text in _strings(yaml.safe_load(path.read_text())):
            if key == "hosts":
                continue
            retyped += [f"{path.name}: {name}" for name in DEFAULTED.findall(text) if name in defaults]
    assert retyped == [], f"enter the role (an entry point with an argument spec) instead: {retyped}"


def test_python_app_is_mapped_once_per_caller_and_read_through_its_result():
    for role in ("uvicorn", "celery"):
        tasks = ROLES / role / "tasks"
        mapping = [p.name for p in sorted(tasks.glob("*.yml")) if "python_app_name:" in p.read_text()]
        assert mapping == ["python_app.yml"], f"{role} maps python_app's inputs in {mapping}"
        for path in [*tasks.glob("*.yml"), *(ROLES / role / "templates").glob("*.j2")]:
            old = re.findall(r"python_app_(?:current|previous)_release\w*|python_app_release_changed", path.read_text())
            assert old == [], f"{path.relative_to(ROOT)} reads {old}; read python_app_result"


def test_python_app_refuses_to_be_applied_on_its_own(run_playbook):
    returncode, output = run_playbook(
        "- hosts: localhost\n  gather_facts: false\n  roles:\n    - role: opsforge.webstack.python_app\n",
        "-i",
        "localhost,",
        "-c",
        "local",
        timeout=120,
    )
    assert returncode == 2, output
    assert "opsforge.webstack.python_app is an internal role" in output
    assert "Apply opsforge.webstack.uvicorn or opsforge.webstack.celery instead" in output


# The collection's module options that name another host's PostgreSQL, with the TLS options that must go with them.
REMOTE_SERVER_TLS = {
    "primary_host": ("ssl_mode", "ca_cert"),
    "old_primary_host": ("switchover_ssl_mode", "switchover_ca_cert"),
    "target_host": ("switchover_ssl_mode", "switchover_ca_cert"),
}
# Modules whose login is PgBouncer's admin console: their primary_host takes the switchover TLS options.
REMOTE_SERVER_TLS_OF = {
    "opsforge.webstack.pgbouncer_hold": {"primary_host": ("switchover_ssl_mode", "switchover_ca_cert")},
}
# Where the TLS of a host's clients of the cluster is computed, once per role that installs the CA there.
SHARED_TLS = re.compile(r"_(postgresql_client|pgbouncer_server|switchover_member|switchover_bouncer)_tls\b")
LOOPBACK = {"", "127.0.0.1", "::1", "localhost"}


def _module_calls(node, path):
    """(where, module, args) for every task of a loaded YAML document that calls one of the collection's modules."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key.startswith("opsforge.webstack.") and isinstance(value, dict):
                yield f"{path}: {node.get('name', key)}", key, value
            else:
                yield from _module_calls(value, path)
    elif isinstance(node, list):
        for item in node:
            yield from _module_calls(item, path)


def _task_files():
    files = [*ROLES.glob("*/tasks/*.yml"), *ROLES.glob("*/handlers/*.yml"), *(ROOT / "playbooks").rglob("*.yml")]
    return sorted(path for path in files if path.suffix == ".yml")


def test_every_connection_to_another_hosts_postgresql_verifies_with_the_shared_tls():
    """A module call that reaches another host's PostgreSQL passes TLS from the one mapping of its role (verify-full
    with the host's CA where postgresql_tls is on), never a literal; a login over TCP goes to loopback only."""
    problems, remote = [], 0
    for path in _task_files():
        for where, module, args in _module_calls(yaml.safe_load(path.read_text()), path.relative_to(ROOT)):
            for option, (mode, ca) in {**REMOTE_SERVER_TLS, **REMOTE_SERVER_TLS_OF.get(module, {})}.items():
                if option not in args:
                    continue
                remote += 1
                if not SHARED_TLS.search(str(args.get(mode, ""))) or not SHARED_TLS.search(str(args.get(ca, ""))):
                    problems.append(f"{where}: {module} reaches {option} without {mode}/{ca} from the shared TLS")
            for option in ("ssl_mode", "switchover_ssl_mode"):
                if option in args and not SHARED_TLS.search(str(args[option])):
                    problems.append(f"{where}: {option} is typed here ({args[option]!r}), not the shared TLS")
            if str(args.get("login_host", "")) not in LOOPBACK and "ssl_mode" not in args:
                problems.append(f"{where}: {module} logs in to {args['login_host']} without ssl_mode")
    assert problems == []
    # pg_standby's primary, pg_switchover_promote's old primary, pgbouncer_switchover's old primary and target
    assert remote >= 4
