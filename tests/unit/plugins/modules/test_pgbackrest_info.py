# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

import pytest
from ansible_collections.opsforge.webstack.plugins.modules import pgbackrest_info as mod

PARAMS = {
    "executable": "/usr/bin/pgbackrest",
    "config": "/etc/pgbackrest/pgbackrest.conf",
    "stanza": "main",
    "os_user": None,
}
INFO = ["/usr/bin/pgbackrest", "--config=/etc/pgbackrest/pgbackrest.conf", "--stanza=main", "--output=json", "info"]


def test_info_command_as_another_user_only_through_runuser_as_root():
    assert mod.info_command(PARAMS, 1000, "alice") == INFO
    assert mod.info_command(dict(PARAMS, os_user="postgres"), 0, "root") == ["runuser", "-u", "postgres", "--", *INFO]
    assert mod.info_command(dict(PARAMS, os_user="postgres"), 105, "postgres") == INFO
    with pytest.raises(ValueError, match="needs the module to run as root"):
        mod.info_command(dict(PARAMS, os_user="postgres"), 1000, "alice")


def test_connection_params_map_community_postgresql_names():
    params = {"login_host": "", "login_unix_socket": "/run/pg", "port": 5433, "login_user": "monitor",
              "login_password": "pw", "login_db": "postgres", "connect_timeout": 3}  # fmt: skip
    mapped = mod.connection_params(params)
    assert mapped["login_host"] == "/run/pg" and mapped["login_port"] == 5433 and mapped["login_user"] == "monitor"
    assert mod.connection_params(dict(params, login_host="10.0.0.5"))["login_host"] == "10.0.0.5"
