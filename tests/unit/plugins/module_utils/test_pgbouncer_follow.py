# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from pathlib import Path

import jinja2
import pytest
from ansible_collections.opsforge.webstack.plugins.module_utils.pgbouncer_follow import (
    Answer,
    Target,
    decide,
    render_databases,
)

TEMPLATE = Path(__file__).resolve().parents[4] / "roles" / "pgbouncer" / "templates" / "databases.ini.j2"
ADDRESSES = {"db1": "10.0.0.11", "db2": "10.0.0.12", "db3": "10.0.0.13"}
PRIMARY, REPLICA, DOWN = Answer(True), Answer(False, True), Answer(None, None, "timed out")


def test_exactly_one_primary_leads_and_answering_replicas_serve_reads():
    decision = decide({"db1": REPLICA, "db2": PRIMARY, "db3": REPLICA})
    assert decision.target == Target("db2", ("db1", "db3"))


def test_a_silent_member_is_neither_leader_nor_replica():
    # During a failover: the old leader frozen, the new one promoted.
    assert decide({"db1": DOWN, "db2": PRIMARY}).target == Target("db2", ())


def test_a_replica_that_is_not_ready_serves_no_reads():
    # /replica answers 503 while the member is starting, lagging or tagged noloadbalance.
    assert decide({"db1": PRIMARY, "db2": Answer(False, False)}).target == Target("db1", ())


@pytest.mark.parametrize(
    ("answers", "said"),
    [
        ({"db1": REPLICA, "db2": REPLICA}, "no member answers as primary"),
        ({"db1": DOWN, "db2": REPLICA}, "no member answers as primary; no answer from db1"),
        ({"db1": DOWN, "db2": DOWN}, "no answer from db1, db2"),
        ({"db1": PRIMARY, "db2": PRIMARY}, "2 members answer as primary (db1, db2)"),
        ({}, "no member answers as primary"),
    ],
)
def test_none_or_several_primaries_keep_the_current_target(answers, said):
    decision = decide(answers)
    assert decision.target is None
    assert said in decision.reason and decision.reason.endswith("keeping the current target")


def render_template(primary, standbys, databases):
    environment = jinja2.Environment(trim_blocks=True, undefined=jinja2.StrictUndefined)
    return environment.from_string(TEMPLATE.read_text()).render(
        pgbouncer_databases=databases,
        pgbouncer_postgresql_port=5432,
        pgbouncer_readonly_suffix="_ro",
        _pgbouncer_primary_address=ADDRESSES[primary],
        _pgbouncer_standby_addresses=[ADDRESSES[name] for name in standbys],
    )


@pytest.mark.parametrize("replicas", [(), ("db1",), ("db1", "db3")])
def test_the_watcher_writes_what_the_role_writes_for_the_same_topology(replicas):
    databases = [{"name": "shop"}, {"name": "reports", "dbname": "shop"}]
    rendered = render_databases(Target("db2", replicas), ADDRESSES, databases, 5432, "_ro")
    assert rendered == render_template("db2", replicas, databases)
    readonly = ",".join(ADDRESSES[name] for name in replicas) or ADDRESSES["db2"]
    assert rendered.splitlines() == [
        "shop = host=10.0.0.12 port=5432 dbname=shop",
        f"shop_ro = host={readonly} port=5432 dbname=shop",
        "reports = host=10.0.0.12 port=5432 dbname=shop",
        f"reports_ro = host={readonly} port=5432 dbname=shop",
    ]
