# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the module integration tests: each test gets the servers it needs, built for it alone.

Nothing is shared between tests but the binaries: a test runs alone, in any order, and leaves nothing
behind. When PostgreSQL, PgBouncer or psycopg2 is missing the tests fail, saying what to install:
a skipped suite would pass in CI without testing anything.
"""

import tempfile
from pathlib import Path

import pytest
from pglab import Lab, missing_requirements


@pytest.fixture
def lab(request):
    """An empty lab: its folder and this checkout as the collection; no server runs yet."""
    missing = missing_requirements()
    if missing:
        pytest.fail(
            "the module integration tests need " + ", ".join(missing) + " (apt-get install postgresql pgbouncer "
            "python3-psycopg2, or ./dev setup)",
            pytrace=False,
        )
    lab = Lab(Path(tempfile.mkdtemp(prefix="opsforge-data-it-", dir="/tmp")))
    request.addfinalizer(lab.teardown)
    lab.prepare()
    return lab


@pytest.fixture
def primary(lab):
    """node_a runs as a primary, with the replicator role, the (inactive) slot node_b and the table orders."""
    lab.init_primary()
    return lab


@pytest.fixture
def replication(primary):
    """node_b streams from node_a through the slot node_b (application_name node_b)."""
    primary.clone_standby()
    return primary


@pytest.fixture
def bouncer(primary):
    """PgBouncer in front of node_a (database shop); the admin console login."""
    return primary.start_bouncer()
