"""Results: derived totals, Gradescope JSON, JUnit XML and the student's feedback."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET

import nbformat
import pytest

from mnist_lab.assignment import TEMPLATE_NOTEBOOK
from mnist_lab.grading.feedback import render_html, render_markdown
from mnist_lab.grading.grade import manual_answers
from mnist_lab.grading.results import CellError, CheckResult, GradingResults, ManualAnswer
from mnist_lab.grading.rubric import load_rubric
from mnist_lab.paths import SOLUTION_NOTEBOOK
from tests.grading.conftest import assert_gradescope_results

SECRET = "classified 12 of 50 scans"
HOSTILE_TEXT = "<script>alert('x')</script> & ![img](http://example.com/x.png)"


def check(name, passed, points, *, visibility="visible", extra_credit=False, message="ok"):
    return CheckResult(
        name=name,
        title=f"The {name} check",
        passed=passed,
        points=points if passed else 0.0,
        max_points=points,
        message=message,
        visibility=visibility,
        extra_credit=extra_credit,
    )


@pytest.fixture
def results() -> GradingResults:
    return GradingResults(
        checks=(
            check("shapes", True, 10.0),
            check("scaling", False, 7.5, message=f"values up to 255\n{HOSTILE_TEXT}"),
            check("scans", False, 5.0, visibility="hidden", message=SECRET),
            check("bonus", True, 10.0, extra_credit=True),
        ),
        notebook="lab.ipynb",
        seconds=12.5,
        cell_errors=(CellError(13, "Step 3", "error", "NameError: name 'x' is not defined"),),
    )


def test_totals_are_derived_and_extra_credit_is_outside_the_maximum(results):
    assert results.score == 20.0
    assert results.max_score == 22.5
    assert results.extra_credit_score == 10.0 and results.extra_credit_max == 10.0
    assert results.passed == ("shapes", "bonus")
    assert results.failed == ("scaling", "scans")
    assert results.summary_line() == "Score: 20 / 22.5 (extra credit: 10 / 10)"


def test_a_hidden_check_shows_students_only_pass_or_fail(results):
    hidden = results.check("scans")
    assert SECRET not in hidden.student_message
    assert hidden.student_message.startswith("Not passed.")


def test_gradescope_results_follow_the_spec_and_hide_hidden_details(results):
    data = results.to_gradescope_dict()
    assert_gradescope_results(data)
    assert json.loads(json.dumps(data)) == data
    assert data["score"] == 20.0 and data["execution_time"] == 12.5
    statuses = {test["name"]: (test["status"], test["visibility"]) for test in data["tests"]}
    assert statuses["The scans check"] == ("failed", "after_published")
    assert statuses["The shapes check"] == ("passed", "visible")
    assert SECRET not in json.dumps(data)
    assert "cell 13 (Step 3): NameError" in data["output"]


def test_junit_xml_parses_and_keeps_the_instructors_details(results):
    root = ET.fromstring(results.to_junit_xml())
    suite = root.find("testsuite")
    assert suite.get("tests") == "4" and suite.get("failures") == "2"
    cases = {case.get("name").removeprefix("test_"): case for case in suite.iter("testcase")}
    assert cases["scans"].find("failure").text == SECRET
    assert cases["shapes"].find("failure") is None
    points = {p.get("name"): p.get("value") for p in cases["scaling"].iter("property")}
    assert points["max_points"] == "7.5" and points["points"] == "0"


def test_junit_xml_survives_control_characters():
    noisy = check("noisy", False, 1.0, message="\x1b[31mred\x1b[0m and a NUL \x00")
    xml = GradingResults((noisy,), "lab.ipynb").to_junit_xml()
    assert "red" in ET.fromstring(xml).find(".//failure").text


def test_results_survive_the_trip_from_the_checker(results):
    assert GradingResults.from_dict(json.loads(json.dumps(results.to_dict()))) == results


@pytest.mark.parametrize("render", [render_markdown, render_html])
def test_feedback_lists_every_check_and_hides_hidden_details(results, render):
    text = render(results)
    assert "Score: 20 / 22.5 (extra credit: 10 / 10)" in text
    for name in ("shapes", "scaling", "scans", "bonus"):
        assert f"The {name} check" in text
    assert SECRET not in text
    assert "hidden check" in text
    assert "NameError" in text


def test_html_feedback_escapes_what_came_from_the_notebook(results):
    html = render_html(results)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_markdown_feedback_quotes_notebook_text_as_code(results):
    markdown = render_markdown(results)
    line = next(line for line in markdown.splitlines() if "<script>" in line)
    assert line.startswith("    ")  # an indented code block: nothing in it is interpreted


# The answers the instructor grades by hand -------------------------------------------------


@pytest.fixture
def with_answers(results) -> GradingResults:
    return dataclasses.replace(
        results,
        answers=(ManualAnswer("problem_statement", 5.0, True), ManualAnswer("result", 5.0, False)),
    )


def test_answers_graded_by_hand_change_no_score(results, with_answers):
    assert with_answers.score == results.score and with_answers.max_score == results.max_score
    data = with_answers.to_gradescope_dict()
    assert_gradescope_results(data)
    assert data["score"] == results.to_gradescope_dict()["score"]
    by_name = {test["name"]: test for test in data["tests"]}
    written = by_name["Problem statement (graded by your instructor)"]
    missing = by_name["Result (graded by your instructor)"]
    assert written["score"] == written["max_score"] == missing["max_score"] == 0
    assert written["status"] == "passed" and "grades it by hand (5 points)" in written["output"]
    assert missing["status"] == "failed" and missing["output"].startswith("Not written yet")
    assert "not written yet: result." in data["output"]


def test_answers_survive_the_trip_from_the_checker(with_answers):
    assert GradingResults.from_dict(json.loads(json.dumps(with_answers.to_dict()))) == with_answers


@pytest.mark.parametrize("render", [render_markdown, render_html])
def test_feedback_lists_the_answers_apart_from_the_checks(with_answers, render):
    text = render(with_answers)
    assert "Graded by your instructor" in text
    assert "written, awaits your instructor" in text and "not written yet" in text
    assert text.index("Graded by your instructor") < text.index("Details")


def test_manual_answers_are_read_from_the_notebook_as_handed_in():
    rubric = load_rubric()
    template = nbformat.read(TEMPLATE_NOTEBOOK, as_version=4)
    solution = nbformat.read(SOLUTION_NOTEBOOK, as_version=4)
    assert [a.written for a in manual_answers(template, rubric.manual)] == [False] * 4
    assert [a.written for a in manual_answers(solution, rubric.manual)] == [True] * 4
    assert [a.name for a in manual_answers(template, rubric.manual)] == list(rubric.manual)
    no_cells = nbformat.v4.new_notebook()
    assert not any(a.written for a in manual_answers(no_cells, rubric.manual))


def test_missing_names_are_described_in_the_plural_when_there_are_several():
    from mnist_lab.grading.scoring import Missing, describe_missing

    reason = "is not defined: no cell of your notebook assigns it"
    assert describe_missing([Missing("model", reason)]) == (
        "`model` is not defined: no cell of your notebook assigns it."
    )
    assert describe_missing(
        [Missing("x_train_scaled", reason), Missing("x_test_scaled", reason)]
    ) == (
        "`x_train_scaled` and `x_test_scaled` are not defined: no cell of your notebook "
        "assigns them."
    )
