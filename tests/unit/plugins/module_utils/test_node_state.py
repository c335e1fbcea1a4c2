# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which systemd service runs a postmaster, from the text of /proc/PID/cgroup."""

import pytest
from ansible_collections.opsforge.webstack.plugins.module_utils.node_state import service_in_cgroup


@pytest.mark.parametrize(
    ("cgroup", "service"),
    [
        ("0::/system.slice/system-postgresql.slice/postgresql@15-main.service\n", "postgresql@15-main.service"),
        ("0::/system.slice/system-patroni.slice/patroni@17-main.service\n", "patroni@17-main.service"),
        # a container without a cgroup namespace of its own: the innermost service counts
        (
            "0::/machine.slice/libpod-1f2e.scope/container/system.slice/system-postgresql.slice/"
            "postgresql@15-main.service\n",
            "postgresql@15-main.service",
        ),
        # cgroup v1 beside v2 (hybrid): systemd's own hierarchy names it
        (
            "12:pids:/system.slice/patroni@15-main.service\n1:name=systemd:/system.slice/patroni@15-main.service\n"
            "0::/system.slice/patroni@15-main.service\n",
            "patroni@15-main.service",
        ),
        # started by hand from a login session, or by a test harness: no service to compare
        ("0::/user.slice/user-0.slice/session-3.scope\n", None),
        ("", None),
    ],
    ids=["debian", "patroni", "nested", "hybrid", "session", "empty"],
)
def test_the_service_is_the_innermost_one_named(cgroup, service):
    assert service_in_cgroup(cgroup) == service
