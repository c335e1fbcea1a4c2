# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

import pytest
from ansible_collections.opsforge.webstack.plugins.module_utils import postgres as pg

CONTROLDATA = """pg_control version number:            1300
Database system identifier:           7310000000000000001
Database cluster state:               shut down in recovery
Latest checkpoint location:           0/5000060
Latest checkpoint's REDO location:    0/5000028
Latest checkpoint's TimeLineID:       2
Minimum recovery ending location:     0/50000D8
Min recovery ending loc's timeline:   2
"""


def test_conninfo_build_parse_round_trip_with_quoting():
    pairs = [("user", "repl"), ("password", "it's a \\secret"), ("host", "db1"), ("port", "5432"), ("x", None)]
    text = pg.build_conninfo(pairs)
    assert "x=" not in text
    assert pg.parse_conninfo(text) == {"user": "repl", "password": "it's a \\secret", "host": "db1", "port": "5432"}


def test_parse_conninfo_forms():
    assert pg.parse_conninfo("") == {}
    assert pg.parse_conninfo("host = 10.0.0.1  port=5433 application_name='a b'") == {
        "host": "10.0.0.1",
        "port": "5433",
        "application_name": "a b",
    }
    with pytest.raises(ValueError, match="missing '='"):
        pg.parse_conninfo("host")
    with pytest.raises(ValueError, match="unterminated"):
        pg.parse_conninfo("password='abc")


def test_strip_conninfo_password():
    assert pg.strip_conninfo_password("user=r password=s3cret host=h") == "user=r host=h"
    assert pg.strip_conninfo_password("password='x") == "<unparseable conninfo hidden>"
    assert pg.strip_conninfo_password(None) is None


def test_mask_secrets_skips_empty_values():
    assert pg.mask_secrets("a pw1 b pw2", ["pw1", None, "", "pw2"]) == f"a {pg.MASK} b {pg.MASK}"


def test_parse_controldata():
    parsed = pg.parse_controldata(CONTROLDATA)
    assert parsed["system_identifier"] == "7310000000000000001"
    assert parsed["state"] == "shut down in recovery"
    assert parsed["timeline"] == 2
    assert parsed["checkpoint_lsn"] == "0/5000060"
    assert parsed["min_recovery_lsn"] == "0/50000D8"
    assert pg.parse_controldata("garbage")["timeline"] is None


HISTORY_3 = "1\t0/3000148\tno recovery target specified\n\n2\t0/5000060\tno recovery target specified\n"


def test_parse_timeline_history():
    assert pg.parse_timeline_history(HISTORY_3) == [(1, 0x3000148), (2, 0x5000060)]
    assert pg.parse_timeline_history("# comment\nbad line\n") == []
    assert pg.parse_timeline_history(None) == []


@pytest.mark.parametrize(
    ("local_tli", "local_lsn", "source_tli", "history", "diverged"),
    [
        (1, "0/1000000", 1, "", False),  # same timeline
        (1, "0/3000148", 3, HISTORY_3, False),  # stopped exactly at the switch point: can follow
        (1, "0/3000000", 3, HISTORY_3, False),  # behind the switch point
        (1, "0/3000200", 3, HISTORY_3, True),  # wrote past the switch point (old primary kept going)
        (2, "0/5000100", 3, HISTORY_3, True),
        (4, "0/1", 3, HISTORY_3, True),  # newer than the source
        (5, "0/1", 6, "1\t0/1\tx\n", True),  # a timeline the source never had
        (None, None, 2, HISTORY_3, False),  # unknown: do not claim divergence
        (1, None, 3, HISTORY_3, False),
    ],
)
def test_timeline_diverged(local_tli, local_lsn, source_tli, history, diverged):
    assert pg.timeline_diverged(local_tli, local_lsn, source_tli, history) is diverged


def test_connection_kwargs_defaults_and_password():
    params = {"login_host": None, "login_port": None, "login_user": "postgres", "login_db": None}
    kwargs = pg.connection_kwargs(params)
    assert kwargs["host"] == "/var/run/postgresql" and kwargs["port"] == 5432 and kwargs["dbname"] == "postgres"
    assert "password" not in kwargs
    assert pg.connection_kwargs({**params, "login_password": "x"}, dbname="app")["password"] == "x"
    assert pg.connection_kwargs(params, dbname="app")["dbname"] == "app"


def test_common_argument_spec_is_typed_and_hides_the_password():
    spec = pg.postgres_common_argument_spec()
    assert all("type" in option for option in spec.values())
    assert spec["login_password"]["no_log"] is True
    assert spec["login_port"]["default"] == 5432


def test_connection_kwargs_take_the_unix_socket_and_tls_options():
    params = {"login_user": "u", "login_host": "", "login_unix_socket": "/run/pg", "login_port": 5433}
    assert pg.connection_kwargs(params)["host"] == "/run/pg"
    assert pg.connection_kwargs({**params, "login_host": "localhost"})["host"] == "/run/pg"
    assert pg.connection_kwargs({**params, "login_host": "db1"})["host"] == "db1"
    assert pg.connection_kwargs({**params, "login_unix_socket": ""})["host"] == "/var/run/postgresql"
    tls = {"ssl_mode": "verify-full", "ca_cert": "/ca.pem", "ssl_cert": "/c.pem", "ssl_key": "/k.pem"}
    kwargs = pg.connection_kwargs({**params, **tls})
    assert (kwargs["sslmode"], kwargs["sslrootcert"], kwargs["sslcert"], kwargs["sslkey"]) == (
        "verify-full",
        "/ca.pem",
        "/c.pem",
        "/k.pem",
    )
    assert "sslrootcert" not in pg.connection_kwargs(params)


def test_login_params_point_elsewhere_and_keep_tls():
    params = {"login_host": "", "login_unix_socket": "/run/pg", "ssl_mode": "require", "connect_timeout": 10}
    other = pg.login_params(params, "10.0.0.11", 5432, "switchover", "pw", connect_timeout=1)
    kwargs = pg.connection_kwargs(other)
    assert kwargs["host"] == "10.0.0.11" and kwargs["user"] == "switchover" and kwargs["password"] == "pw"
    assert kwargs["sslmode"] == "require" and kwargs["connect_timeout"] == 1
    assert pg.describe_target(other) == "switchover@10.0.0.11:5432"


def _no_problem(_path):
    return None


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer", "require", None])
def test_tls_error_asks_for_no_ca_where_nothing_is_verified(mode):
    assert pg.tls_error(mode, None, ca_problem=_no_problem) is None


@pytest.mark.parametrize("mode", ["verify-ca", "verify-full"])
def test_tls_error_names_the_options_when_a_verifying_mode_has_no_ca(mode):
    error = pg.tls_error(mode, "", "switchover_ssl_mode", "switchover_ca_cert", ca_problem=_no_problem)
    assert f"switchover_ssl_mode={mode}" in error and "switchover_ca_cert is not set" in error
    assert "/etc/pgbouncer/server-ca.crt" in error and "Nothing was changed" in error


def test_tls_error_says_why_the_ca_cannot_be_read():
    error = pg.tls_error("verify-full", "/etc/ca.crt", ca_problem=lambda path: "does not exist")
    assert error.startswith("ca_cert /etc/ca.crt does not exist, and ssl_mode=verify-full needs it")
    assert pg.tls_error("verify-full", "/etc/ca.crt", ca_problem=_no_problem) is None


def test_ca_file_problem_looks_at_the_file(tmp_path):
    ca = tmp_path / "ca.crt"
    assert pg.ca_file_problem(str(ca)) == "does not exist"
    assert pg.ca_file_problem(str(tmp_path)) == "is not a file"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    assert pg.ca_file_problem(str(ca)) is None
    assert pg.ca_file_problem("system") is None


@pytest.mark.parametrize(
    ("error", "fragment"),
    [
        ("SSL error: certificate verify failed", "signed by the CA in switchover_ca_cert (/ca.crt) and name"),
        ('server certificate for "db9" does not match host name "10.0.0.11"', "name the address connected to (10.0"),
    ],
)
def test_tls_failure_hint_explains_a_refused_certificate(error, fragment):
    hint = pg.tls_failure_hint(error, "verify-full", "/ca.crt", "10.0.0.11", "switchover_ca_cert")
    assert fragment in hint


def test_tls_failure_hint_is_empty_for_other_errors():
    assert pg.tls_failure_hint('password authentication failed for user "s"', "verify-full", "/ca", "h") == ""
    assert pg.tls_failure_hint(None, "prefer", None, "h") == ""
    assert "speaks TLS" in pg.tls_failure_hint("server does not support SSL", "require", None, "h")
    assert "and name" not in pg.tls_failure_hint("certificate verify failed", "verify-ca", "/ca", "h")


def test_common_argument_spec_names_follow_community_postgresql():
    spec = pg.postgres_common_argument_spec()
    assert spec["login_port"]["aliases"] == ["port"] and spec["ca_cert"]["aliases"] == ["ssl_rootcert"]
    assert {"login_unix_socket", "ssl_mode", "ssl_cert", "ssl_key"} <= set(spec)


def test_poll_until_stops_when_done_or_at_the_deadline(monkeypatch):
    sleeps = []
    monkeypatch.setattr(pg.time, "sleep", sleeps.append)
    values = iter([1, 2, 3, 4])
    assert pg.poll_until(lambda: next(values), lambda v: v == 3, pg.time.monotonic() + 60, 0.5) == 3
    assert sleeps == [0.5, 0.5]
    calls = []
    assert pg.poll_until(lambda: calls.append(1) or False, bool, pg.time.monotonic() - 1, 0.5) is False
    assert calls == [1]
