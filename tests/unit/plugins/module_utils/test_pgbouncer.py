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


class FakeConsole:
    def __init__(self, errors):
        self.errors = errors
        self.statements = []

    def open(self):
        return self

    def run(self, statement, timeout):
        self.statements.append(statement)
        error = self.errors.pop(0) if self.errors else None
        if error:
            raise error

    def close(self):
        pass


def test_resume_retries_on_fresh_consoles_and_takes_not_paused_as_done(monkeypatch):
    fresh = FakeConsole([pgb.AdminError("ERROR: pooler is not paused/suspended")])
    monkeypatch.setattr(pgb, "AdminConsole", lambda params: fresh)
    first = FakeConsole([pgb.AdminTimeout()])
    assert pgb.resume({}, 5, console=first, attempts=3) is None
    assert first.statements == ["RESUME"] and fresh.statements == ["RESUME"]
    broken = FakeConsole([pgb.AdminError("gone")] * 3)
    monkeypatch.setattr(pgb, "AdminConsole", lambda params: broken)
    assert pgb.resume({}, 5, statement="RESUME shop", attempts=2) == "gone"
    assert broken.statements == ["RESUME shop", "RESUME shop"]
