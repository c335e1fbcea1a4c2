# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

import pytest
from ansible_collections.opsforge.webstack.plugins.modules import pgbouncer_admin as mod


@pytest.mark.parametrize(
    ("command", "database", "show", "fragment"),
    [
        ("show", None, None, "needs the view"),
        ("pause", None, "pools", "only allowed with command=show"),
        ("reload", "shop", None, "only allowed with command pause, resume or reconnect"),
        ("show", "shop", "pools", "only allowed with command pause, resume or reconnect"),
        ("pause", "shop; RESUME", None, "not a plain PgBouncer database name"),
        ("pause", "", None, "not a plain PgBouncer database name"),
    ],
)
def test_validate_request_rejects(command, database, show, fragment):
    assert fragment in mod.validate_request(command, database, show)


@pytest.mark.parametrize(
    ("command", "database", "show"),
    [("pause", None, None), ("pause", "shop_db-2", None), ("reconnect", "shop", None), ("show", None, "pools")],
)
def test_validate_request_accepts(command, database, show):
    assert mod.validate_request(command, database, show) is None


def test_build_statement():
    assert mod.build_statement("pause") == "PAUSE"
    assert mod.build_statement("pause", "shop") == "PAUSE shop"
    assert mod.build_statement("reconnect", "shop") == "RECONNECT shop"
    assert mod.build_statement("show", show="stats_totals") == "SHOW STATS_TOTALS"


ROWS = [
    {"name": "shop", "paused": 1, "disabled": 0},
    {"name": "reports", "paused": 0, "disabled": 0},
    {"name": "pgbouncer", "paused": 0, "disabled": 0},
]


def test_database_paused():
    assert mod.database_paused(ROWS, "shop") is True
    assert mod.database_paused(ROWS, "reports") is False
    assert mod.database_paused(ROWS, "nope") is None


def test_state_paused_key_value_rows():
    assert mod.state_paused([{"key": "active", "value": "yes"}, {"key": "paused", "value": "yes"}]) is True
    assert mod.state_paused([{"key": "paused", "value": "no"}]) is False
    assert mod.state_paused([{"paused": "yes", "suspended": "no"}]) is True
    assert mod.state_paused([]) is None


@pytest.mark.parametrize(
    ("command", "paused", "changes"),
    [
        ("pause", False, True),
        ("pause", True, False),
        ("pause", None, True),
        ("resume", True, True),
        ("resume", False, False),
        ("resume", None, True),
        ("reload", None, True),
        ("reconnect", False, True),
        ("show", None, False),
    ],
)
def test_would_change(command, paused, changes):
    assert mod.would_change(command, paused) is changes


def test_is_noop_error():
    assert mod.is_noop_error("pause", "already suspended/paused")
    assert mod.is_noop_error("resume", "pooler is not paused/suspended")
    assert mod.is_noop_error("resume", "database shop is not paused")
    assert not mod.is_noop_error("pause", "no such database: x")
    assert not mod.is_noop_error("reload", "already suspended/paused")


def test_main_rejects_show_without_view(run_module_main):
    code, result = run_module_main(mod.main, {"command": "show"})
    assert code == 1 and result["failed"]
    assert "command is show but all of the following are missing: show" in result["msg"]


def test_main_rejects_unknown_view(run_module_main):
    code, result = run_module_main(mod.main, {"command": "show", "show": "passwords"})
    assert code == 1 and "value of show must be one of" in result["msg"]


def test_main_rejects_database_with_reload_before_connecting(run_module_main):
    code, result = run_module_main(mod.main, {"command": "reload", "database": "shop", "login_port": 1})
    assert code == 1 and "'database' is only allowed" in result["msg"]


def test_main_reports_connection_failure_without_traceback(run_module_main):
    args = {"command": "show", "show": "pools", "login_host": "127.0.0.1", "login_port": 1, "connect_timeout": 2}
    code, result = run_module_main(mod.main, args)
    assert code == 1 and "Could not connect to the PgBouncer admin console as pgbouncer@127.0.0.1:1" in result["msg"]
    assert "exception" not in result
