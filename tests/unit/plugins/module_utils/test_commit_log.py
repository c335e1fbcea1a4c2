# Copyright: (c) 2026, opsforge developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the failover drill's writer log says: the outage, the errors by kind, writes per second, lost commits."""

from ansible_collections.opsforge.webstack.plugins.module_utils import commit_log

ACKS = [(1, 100.1), (2, 100.6), (3, 101.2), (4, 109.5), (5, 109.9)]
ERRORS = [(101.5, "SQLSTATE 57P01"), (102.0, "OperationalError"), (105.0, "OperationalError")]


def test_the_outage_is_the_longest_stall_between_acknowledged_commits_with_the_errors_in_it():
    assert commit_log.outage(ACKS, ERRORS) == {
        "stalled_at": 101.2,
        "writes_back_at": 109.5,
        "seconds": 8.3,
        "first_error_at": 101.5,
        "errors": 3,
    }


def test_writes_that_stall_without_failing_are_an_outage_too():
    # PgBouncer held the writes while it had no server: no error, one long gap.
    assert commit_log.outage(ACKS, [])["seconds"] == 8.3


def test_failures_after_the_last_acknowledged_commit_leave_the_outage_open():
    result = commit_log.outage(ACKS[:3], ERRORS)
    assert (result["stalled_at"], result["writes_back_at"], result["seconds"]) == (101.2, None, None)
    assert commit_log.outage([], ERRORS)["stalled_at"] is None


def test_errors_are_counted_by_kind():
    assert commit_log.errors_by_kind(ERRORS) == {"OperationalError": 2, "SQLSTATE 57P01": 1}


def test_writes_are_counted_per_second_from_the_start():
    seconds = commit_log.per_second(ACKS, ERRORS, 100.0)
    assert len(seconds) == 10
    assert seconds[0] == {"second": 0, "ok": 2, "errors": 0}
    assert seconds[1] == {"second": 1, "ok": 1, "errors": 1}
    assert seconds[5] == {"second": 5, "ok": 0, "errors": 1}
    assert seconds[9] == {"second": 9, "ok": 2, "errors": 0}
    assert commit_log.per_second([], [], 100.0) == []


def test_lost_commits_and_how_far_back_they_reach():
    result = commit_log.lost_commits(ACKS, {1, 2, 4, 5}, failed_at=101.5)
    assert result["lost"] == 1 and result["lost_ids"] == [3]
    assert result["rpo_seconds"] == 0.3
    assert commit_log.lost_commits(ACKS, {1, 2, 3, 4, 5})["rpo_seconds"] == 0.0


def test_an_error_with_a_sqlstate_is_named_by_it():
    class Failure(Exception):
        pgcode = "57P01"

    assert commit_log.error_kind(Failure()) == "SQLSTATE 57P01"
    assert commit_log.error_kind(ValueError()) == "ValueError"
