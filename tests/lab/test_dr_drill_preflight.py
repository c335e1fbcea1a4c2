"""dr_drill.yml and failover.yml refuse to start on the lab, before they touch anything, and say why.

These runs stop in their pre-checks, so they share the lab with the tests beside them; the failover drill itself is
test_dr_drill.py's.
"""

import pytest
from conftest import only_report, playbook, pools_paused, primary, scratch_data_stamp

# What it does to the lab, for the tests beside it (conftest.LAB_PARTS): runs the drills' pre-checks, which read the
# cluster, the backups and drill1.
LAB_USES = {"backup": "shared", "database": "shared", "drill": "shared", "primary": "shared"}


def test_an_unknown_drill_kind_is_refused_before_anything(tmp_path):
    rc, out = playbook("playbooks/dr_drill.yml", "-e", f"drill_report_dir={tmp_path}", "-e", "drill_kind=meteor")
    assert rc != 0
    assert "drill_kind=meteor is not a drill this playbook runs (restore, failover). Nothing was changed." in out
    assert not pools_paused()


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (["-e", "drill_host=drill-nowhere"], "drill-nowhere cannot be reached"),
        (["-e", "drill_min_standbys=2"], "1 streaming (db"),
    ],
    ids=["unreachable scratch host", "too few standbys"],
)
def test_a_drill_that_cannot_start_stops_before_touching_anything_and_says_where(tmp_path, extra, reason):
    before = scratch_data_stamp()

    rc, out = playbook("playbooks/dr_drill.yml", "-e", f"drill_report_dir={tmp_path}", *extra)
    assert rc != 0
    assert reason in " ".join(out.split())
    report = only_report(tmp_path)
    assert report["status"] == "refused" and report["stopped_at"] == "pre-checks"
    assert reason in report["message"]
    assert report["restore_point"] is None and report["verdicts"]["rto"] == "not measured"

    # Nothing was touched: PgBouncer not paused, the scratch host as it was.
    assert not pools_paused()
    assert scratch_data_stamp() == before


def test_failover_is_refused_while_the_primary_accepts_writes():
    host = primary()
    rc, out = playbook("playbooks/failover.yml")
    assert rc != 0
    assert f"{host} answers and accepts writes" in " ".join(out.split())
    assert primary() == host
    assert not pools_paused()
