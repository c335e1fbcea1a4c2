# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

import pytest
from ansible_collections.opsforge.webstack.plugins.module_utils.pgbouncer import admin_connection_kwargs
from ansible_collections.opsforge.webstack.plugins.modules import pgbouncer_switchover as mod

GOOD = {
    "signal_name": "app1",
    "old_primary_host": "10.0.0.11",
    "target_host": "10.0.0.12",
    "old_primary_port": 5432,
    "target_port": 5432,
    "staged_config": "/etc/pgbouncer/pgbouncer.ini.next",
    "config": "/etc/pgbouncer/pgbouncer.ini",
    "pause_wait": 3,
    "pause_timeout": 15,
    "poll_interval_ms": 20,
    "peers": ["app1", "app2", "worker1"],
    "barrier_timeout": 10,
}


def test_validate_params_accepts():
    assert mod.validate_params(GOOD) is None
    assert mod.validate_params({**GOOD, "peers": []}) is None


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"signal_name": "a b"}, "letters, digits"),
        ({"target_host": "10.0.0.11"}, "are the same server"),
        ({"staged_config": "/etc/pgbouncer/pgbouncer.ini"}, "another file than config"),
        ({"staged_config": "/tmp/pgbouncer.ini.next"}, "same directory"),
        ({"pause_wait": 15}, "shorter than pause_timeout"),
        ({"pause_timeout": 0}, "pause_timeout must be positive"),
        ({"poll_interval_ms": 5000}, "poll_interval_ms"),
        ({"peers": ["app2", "worker1"]}, "peers must include this host's signal_name 'app1'"),
        ({"peers": ["app1", "app:2"]}, "peers: signal name 'app:2'"),
        ({"barrier_timeout": 0}, "barrier_timeout must be positive"),
    ],
)
def test_validate_params_rejects(change, fragment):
    assert fragment in mod.validate_params({**GOOD, **change})


def test_server_kwargs_bound_every_statement():
    params = {"switchover_user": "s", "switchover_password": "pw", "switchover_db": "postgres"}
    kwargs = mod.server_kwargs(params, "10.0.0.11", 5432, "webstack-switchover-paused:app1")
    assert kwargs["application_name"] == "webstack-switchover-paused:app1"
    assert kwargs["connect_timeout"] == 1 and "statement_timeout" in kwargs["options"]
    assert kwargs["host"] == "10.0.0.11" and kwargs["password"] == "pw"


def test_server_kwargs_verify_the_servers_and_leave_the_console_alone():
    params = {
        "switchover_user": "s",
        "switchover_password": "pw",
        "switchover_db": "postgres",
        "login_host": "127.0.0.1",
        "ssl_mode": "prefer",
        "switchover_ssl_mode": "verify-full",
        "switchover_ca_cert": "/etc/pgbouncer/server-ca.crt",
    }
    kwargs = mod.server_kwargs(params, "10.0.0.12", 5432, "webstack-switchover-poll")
    assert (kwargs["sslmode"], kwargs["sslrootcert"]) == ("verify-full", "/etc/pgbouncer/server-ca.crt")
    console = admin_connection_kwargs(params)
    assert console["sslmode"] == "prefer" and "sslrootcert" not in console


def test_validate_params_refuses_verify_full_without_a_readable_ca(tmp_path):
    error = mod.validate_params({**GOOD, "switchover_ssl_mode": "verify-full"})
    assert "switchover_ca_cert is not set" in error
    absent = tmp_path / "server-ca.crt"
    error = mod.validate_params({**GOOD, "switchover_ssl_mode": "verify-full", "switchover_ca_cert": str(absent)})
    assert error.startswith(f"switchover_ca_cert {absent} does not exist")
    present = absent
    present.write_text("-----BEGIN CERTIFICATE-----\n")
    verifying = {**GOOD, "switchover_ssl_mode": "verify-full", "switchover_ca_cert": str(present)}
    assert mod.validate_params(verifying) is None


def test_main_fails_before_pausing_without_a_staged_file(run_module_main, tmp_path):
    args = {
        **GOOD,
        "staged_config": str(tmp_path / "pgbouncer.ini.next"),
        "config": str(tmp_path / "pgbouncer.ini"),
        "switchover_user": "s",
        "switchover_password": "unit-test-secret-000",
    }
    code, result = run_module_main(mod.main, args)
    assert code == 1 and "does not exist; nothing was paused" in result["msg"]


def test_validate_params_accepts_the_leader_watcher_instead_of_a_staged_file():
    following = {**GOOD, "staged_config": None, "follow_unit": "webstack-pgbouncer-follow.service"}
    assert mod.validate_params(following) is None


def test_main_wants_a_staged_file_or_the_leader_watcher(run_module_main):
    args = {**GOOD, "switchover_user": "s", "switchover_password": "pw-secret", "login_password": "admin-secret"}
    del args["staged_config"]
    code, result = run_module_main(mod.main, args)
    assert code == 1 and "one of the following is required: staged_config, follow_unit" in result["msg"]
    both = {**args, "staged_config": "/etc/pgbouncer/pgbouncer.ini.next", "follow_unit": "w.service"}
    code, result = run_module_main(mod.main, both)
    assert code == 1 and "mutually exclusive: staged_config|follow_unit" in result["msg"]
