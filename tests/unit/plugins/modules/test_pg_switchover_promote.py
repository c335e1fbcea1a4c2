# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

import pytest
from ansible_collections.opsforge.webstack.plugins.module_utils.postgres import connection_kwargs
from ansible_collections.opsforge.webstack.plugins.modules import pg_switchover_promote as mod


@pytest.fixture
def promote_options(critical_section_options):
    """Good values of the options validate_params reads: the critical section's and this module's own."""
    return {**critical_section_options, "archive_lookup_timeout": 5}


def test_validate_params_checks_the_shared_options(promote_options):
    good = promote_options
    assert mod.validate_params(good) is None
    assert "catchup_timeout must be positive" in mod.validate_params({**good, "catchup_timeout": 0})
    assert "at least one PgBouncer host" in mod.validate_params({**good, "bouncers": []})


def test_validate_params_keeps_the_archive_lookup_within_the_wait_for_the_signals(promote_options):
    assert "archive_lookup_timeout must be positive" in mod.validate_params(
        {**promote_options, "archive_lookup_timeout": 0}
    )
    error = mod.validate_params({**promote_options, "archive_lookup_timeout": 10})
    assert error.startswith("archive_lookup_timeout (10 s) must be shorter than signal_timeout (10 s)")


def test_old_primary_params_verify_the_old_primary():
    params = {
        "old_primary_host": "10.0.0.11",
        "old_primary_port": 5432,
        "switchover_user": "s",
        "switchover_password": "pw",
        "switchover_db": "postgres",
        "connect_timeout": 10,
        "login_unix_socket": "",
        "ssl_mode": "prefer",
        "switchover_ssl_mode": "verify-full",
        "switchover_ca_cert": "/etc/postgresql/15/main/tls/ca.crt",
    }
    kwargs = connection_kwargs(mod.old_primary_params(params))
    assert (kwargs["host"], kwargs["sslmode"], kwargs["sslrootcert"]) == (
        "10.0.0.11",
        "verify-full",
        "/etc/postgresql/15/main/tls/ca.crt",
    )
    assert kwargs["connect_timeout"] == 5
    # the local login (the unix socket) keeps its own
    assert connection_kwargs(params)["sslmode"] == "prefer"


def test_main_refuses_verify_full_without_a_readable_ca_before_connecting(run_module_main, tmp_path):
    args = {
        "old_primary_host": "192.0.2.1",
        "switchover_user": "switchover",
        "switchover_password": "x" * 16,
        "bouncers": ["app1"],
        "login_port": 1,
        "switchover_ssl_mode": "verify-full",
        "switchover_ca_cert": str(tmp_path / "ca.crt"),
    }
    code, result = run_module_main(mod.main, args)
    assert code == 1 and result["msg"].startswith(f"switchover_ca_cert {tmp_path / 'ca.crt'} does not exist")
    assert "Nothing was changed" in result["msg"]


def test_main_rejects_bad_bounds_before_connecting(run_module_main):
    args = {
        "old_primary_host": "192.0.2.1",
        "switchover_user": "switchover",
        "switchover_password": "x" * 16,
        "bouncers": ["app1"],
        "pause_timeout": 5,
        "login_port": 1,
    }
    code, result = run_module_main(mod.main, args)
    assert code == 1 and "leaves no time to promote" in result["msg"]


def test_main_requires_the_old_primary(run_module_main):
    code, result = run_module_main(
        mod.main, {"switchover_user": "s", "switchover_password": "unit-test-secret-000", "bouncers": ["a"]}
    )
    assert code == 1 and "old_primary_host" in result["msg"]


PATRONI = {
    "api_url": "https://10.0.0.11:8008",
    "leader": "db1",
    "candidate": "db2",
    "user": "patroni",
    "password": "pw",
    "ca_cert": None,
    "timeout": 5,
}


def test_validate_params_accepts_patroni(promote_options):
    assert mod.validate_params({**promote_options, "patroni": PATRONI}) is None


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"candidate": "db1"}, "leader and candidate are the same member (db1)"),
        ({"api_url": "http://10.0.0.11:8008"}, "api_url must be https://"),
    ],
)
def test_validate_params_rejects_patroni(promote_options, change, fragment):
    assert fragment in mod.validate_params({**promote_options, "patroni": {**PATRONI, **change}})


def test_validate_params_refuses_patroni_with_a_stopped_old_primary(promote_options):
    error = mod.validate_params({**promote_options, "old_primary_stops": True, "patroni": PATRONI})
    assert "patroni and old_primary_stops exclude each other" in error
    assert mod.validate_params({**promote_options, "old_primary_stops": True}) is None
