"""End to end: `mnist-lab grade` of the reference solution, which must score full marks.

Slow (the real models train: about 4-5 minutes on 2 cores): every test here reads the
session's one real run of the solution (`solution_run`, in tests/conftest.py), graded
behind the sandbox and through the checker, as `mnist-lab grade` grades any notebook.
CI runs it.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from mnist_lab.grading.catalogue import CHECK_NAMES
from tests.grading.conftest import assert_gradescope_results

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graded_solution(solution_run):
    return solution_run.grade_dir


@pytest.fixture(scope="module")
def results(graded_solution):
    return json.loads((graded_solution / "results.json").read_text())


def test_the_solution_passes_every_check(results):
    assert_gradescope_results(results)
    failed = {t["name"]: t["output"] for t in results["tests"] if t["status"] != "passed"}
    assert failed == {}
    assert results["score"] == sum(test["max_score"] for test in results["tests"])
    assert results["score"] == 110  # 100, and the bonus's 10 of extra credit


def test_the_solution_has_no_failing_cells(results):
    assert "did not run to the end" not in results["output"]


def test_the_measured_accuracies_are_the_graders_own(results):
    outputs = {test["name"]: test["output"] for test in results["tests"]}
    lab = next(text for name, text in outputs.items() if name.startswith("The lab model reaches"))
    accuracy = float(lab.split("test images: ")[1].split(";")[0])
    assert 0.98 <= accuracy < 1.0


def test_junit_has_no_failures(graded_solution):
    suite = ET.parse(graded_solution / "junit.xml").getroot().find("testsuite")
    assert suite.get("failures") == "0"
    assert [case.get("name") for case in suite.iter("testcase")] == [
        f"test_{name}" for name in CHECK_NAMES
    ]


def test_the_feedback_congratulates_without_leaking_hidden_details(graded_solution):
    feedback = (graded_solution / "feedback.md").read_text()
    # The score includes the extra credit earned, as Gradescope counts it.
    assert "Score: 110 / 100 (extra credit: 10 / 10)" in feedback
    assert "not passed" not in feedback
    assert "scans correctly" not in feedback  # the hidden check's message


def test_the_report_comes_from_the_graded_run(solution_run, results):
    """One run for both: the report's accuracy is the checker's, of the same saved model."""
    summary = json.loads((solution_run.report_dir / "summary.json").read_text())
    outputs = {test["name"]: test["output"] for test in results["tests"]}
    lab = next(text for name, text in outputs.items() if name.startswith("The lab model reaches"))
    graded = float(lab.split("test images: ")[1].split(";")[0])
    assert summary["test_accuracy"] == pytest.approx(graded, abs=5e-4)
    assert summary["student_name"] == "Reference Solution"
