# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The states a PostgreSQL cluster member reports: pg_node_state classifies, the pg_topology filter decides from them.

A module_utils file of its own, importing nothing, because the filter uses it: ansible-core executes every file in
plugins/filter in each forked worker, and node_state.py would bring psycopg2 along.
"""

from typing import Any, Optional

STATES = ("absent", "running-primary", "running-standby", "stopped-primary", "stopped-standby")


def classify(local: dict[str, Any], in_recovery: Optional[bool]) -> str:
    """A member's state from inspect_local() and pg_is_in_recovery() (None when the server did not answer) (pure).

    A server that runs but does not answer counts as stopped, as the standby.signal file says.
    """
    if not local["has_pg_version"]:
        return "absent"
    if in_recovery is not None:
        return "running-standby" if in_recovery else "running-primary"
    return "stopped-standby" if local["standby_signal"] else "stopped-primary"
