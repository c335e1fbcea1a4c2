# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from ansible_collections.opsforge.webstack.plugins.module_utils import pgbouncer as pgb


def test_rows_to_dicts():
    assert pgb.rows_to_dicts(["name", "paused"], [("shop", 0), ("pgbouncer", 1)]) == [
        {"name": "shop", "paused": 0},
        {"name": "pgbouncer", "paused": 1},
    ]
    assert pgb.rows_to_dicts([], []) == []


def test_admin_connection_kwargs_always_target_the_console():
    kwargs = pgb.admin_connection_kwargs({"login_user": "admin", "login_host": "127.0.0.1", "login_port": 6432})
    assert kwargs["dbname"] == "pgbouncer" and kwargs["port"] == 6432 and "password" not in kwargs
    kwargs = pgb.admin_connection_kwargs({"login_user": "admin", "login_password": "pw"})
    assert kwargs["password"] == "pw" and kwargs["host"] == "/var/run/postgresql"


def test_argument_spec():
    spec = pgb.pgbouncer_common_argument_spec()
    assert spec["login_password"]["no_log"] is True
    assert spec["login_port"]["default"] == 6432
    assert all("type" in option for option in spec.values())
