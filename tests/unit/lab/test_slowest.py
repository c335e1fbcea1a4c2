"""The table of the slowest tests and scenarios that `./dev test` prints at its end."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[3] / "lab" / "slowest.py"
SPEC = importlib.util.spec_from_file_location("slowest", SCRIPT)
slowest = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(slowest)

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="3">
<testcase classname="tests.lab.test_deploy" name="test_rolling" time="321.5" />
<testcase classname="tests.lab.test_deploy" name="test_refused" time="2.0" />
<testcase classname="tests.lab.test_switchover" name="test_long_transaction" time="40.1" />
</testsuite></testsuites>
"""


def test_tests_and_scenarios_are_ranked_together(tmp_path):
    (tmp_path / "junit-lab.xml").write_text(JUNIT)
    (tmp_path / "molecule-durations.txt").write_text("439 postgresql\n71 redis\n")
    rows = slowest.durations(tmp_path)
    assert [row[1] for row in rows] == [
        "molecule: postgresql",
        "lab: tests.lab.test_deploy::test_rolling",
        "molecule: redis",
        "lab: tests.lab.test_switchover::test_long_transaction",
        "lab: tests.lab.test_deploy::test_refused",
    ]
    assert rows[0][0] == 439.0


def test_nothing_recorded_gives_an_empty_table(tmp_path):
    assert slowest.durations(tmp_path) == []
