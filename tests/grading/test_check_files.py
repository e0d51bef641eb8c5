"""An instructor's own checks (a rubric's check_files) and partial credit, end to end.

One tiny lab is graded by `mnist-lab grade-batch` with a rubric that names a check file of
three checks (on a string variable of the notebook, on a name the notebook does not define,
and one with a bug that raises), and that gives half of test_accuracy's points from an
accuracy the tiny lab reaches, below a lab_accuracy it cannot reach. Nothing of the kit or the
solution is edited for it. The same checks then run in a real kernel as the nbgrader cells
that make-assignment adds, and must give the same verdicts.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest

from mnist_lab.assignment.check_cells import add_check_cells
from mnist_lab.grading.rubric import DEFAULT_RUBRIC, load_rubric
from mnist_lab.notebook.execute import execute_notebook
from tests.fixtures.notebooks import tiny_lab

pytestmark = pytest.mark.slow

CHECK_FILE = '''\
"""Three checks of an instructor's own."""


def test_motto(motto, feedback):
    """`motto` names the lab's data set."""
    assert isinstance(motto, str), f"`motto` is a {type(motto).__name__}; expected a string."
    assert "MNIST" in motto, f"`motto` is {motto!r}; expected it to name MNIST."
    feedback.note(f"`motto` is {motto!r}.")


def test_learning_rate(learning_rate):
    """`learning_rate` is recorded."""
    assert learning_rate > 0, "`learning_rate` must be above 0."


def test_broken(model):
    """A check with a bug of its own."""
    assert model.no_such_attribute
'''

RUBRIC_TABLES = """
[checks.motto]
points = 3
visibility = "visible"

[checks.learning_rate]
points = 2
visibility = "hidden"

[checks.broken]
points = 4
visibility = "visible"
"""
MOTTO = "Handwritten digits of MNIST"


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A rubric of the instructor's own beside its check file, and a class of one."""
    folder = tmp_path_factory.mktemp("own-checks")
    (folder / "instructor_checks.py").write_text(CHECK_FILE)
    text = DEFAULT_RUBRIC.read_text()
    text = text.replace("check_files = []", 'check_files = ["instructor_checks.py"]')
    text = text.replace("lab_accuracy = 0.98", "lab_accuracy = 0.999")
    text = text.replace(
        "lab_accuracy_partial_credit = [[0.97, 0.5]]", "lab_accuracy_partial_credit = [[0.5, 0.5]]"
    )
    (folder / "rubric.toml").write_text(text + RUBRIC_TABLES)
    (folder / "class").mkdir()
    lab = tiny_lab(folder / "class")
    notebook = nbformat.read(lab, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(f"motto = {MOTTO!r}"))
    nbformat.write(notebook, folder / "class" / "ada.ipynb")
    lab.unlink()
    return folder


@pytest.fixture(scope="module")
def graded(course) -> Path:
    out = course / "grades"
    command = [sys.executable, "-m", "mnist_lab", "-q", "grade-batch", str(course / "class")]
    command += ["--out", str(out), "--rubric", str(course / "rubric.toml"), "--workers", "1"]
    subprocess.run(command, check=True, timeout=900)
    return out


def test_the_rubric_knows_the_checks_of_its_files(course):
    names = [check.name for check in load_rubric(course / "rubric.toml").catalogue]
    assert names[-3:] == ["motto", "learning_rate", "broken"] and len(names) == 14


def test_results_json_carries_the_checks_their_points_visibility_and_messages(graded):
    tests = {
        t["name"]: t for t in json.loads((graded / "ada" / "results.json").read_text())["tests"]
    }
    motto = tests["`motto` names the lab's data set"]
    assert (motto["score"], motto["max_score"], motto["status"]) == (3, 3, "passed")
    assert motto["output"] == f"`motto` is {MOTTO!r}."
    hidden = tests["`learning_rate` is recorded"]
    assert (hidden["score"], hidden["visibility"]) == (0, "after_published")
    assert "learning_rate" not in hidden["output"]  # a hidden check's message stays hidden
    broken = tests["A check with a bug of its own"]
    assert broken["score"] == 0 and "The check itself failed" in broken["output"]
    assert "AttributeError" in broken["output"] and "tell your instructor" in broken["output"]
    accuracy = next(t for t in tests.values() if t["name"].startswith("The lab model reaches"))
    assert (accuracy["score"], accuracy["max_score"]) == (10, 20)
    assert accuracy["output"].startswith("10 of 20 points: The grader measured")
    assert "earns half of the points, 0.999 all of them" in accuracy["output"]


def test_junit_xml_is_pytest_s_with_the_points(graded):
    suite = ET.parse(graded / "ada" / "junit.xml").getroot().find("testsuite")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert list(cases)[-3:] == ["test_motto", "test_learning_rate", "test_broken"]
    assert cases["test_motto"].get("classname") == "instructor_checks"  # the file's own name
    properties = {
        name: {p.get("name"): p.get("value") for p in case.iter("property")}
        for name, case in cases.items()
    }
    assert properties["test_motto"]["points"] == "3" and cases["test_motto"].find("failure") is None
    missing = cases["test_learning_rate"].find("failure")
    assert "`learning_rate` is not defined" in missing.text  # instructors see everything
    assert properties["test_learning_rate"]["visibility"] == "hidden"
    assert properties["test_test_accuracy"]["points"] == "10"


def test_grades_csv_has_a_column_per_check_with_fractional_scores(graded):
    with (graded / "grades.csv").open() as file:
        (row,) = list(csv.DictReader(file))
    assert (row["motto"], row["learning_rate"], row["broken"]) == ("3", "0", "0")
    assert float(row["test_accuracy"]) == 10


def test_feedback_shows_the_visible_messages_only(graded):
    feedback = (graded / "ada" / "feedback.md").read_text()
    assert f"`motto` is {MOTTO!r}." in feedback and "The check itself failed" in feedback
    assert "`learning_rate` is not defined" not in feedback
    assert "earns half of the points" in feedback


def test_the_nbgrader_cells_give_the_same_verdicts_in_a_kernel(course, graded, tmp_path):
    rubric = load_rubric(course / "rubric.toml")
    notebook = nbformat.read(course / "class" / "ada.ipynb", as_version=4)
    first = len(notebook.cells)
    assert add_check_cells(notebook, rubric) == ["motto", "learning_rate", "broken"]
    path = tmp_path / "ada_with_checks.ipynb"
    nbformat.write(notebook, path)
    executed = execute_notebook(path, allow_errors=True, cwd=tmp_path).notebook
    cells = {
        cell.metadata.nbgrader["grade_id"]: cell
        for cell in executed.cells[first:]
        if "nbgrader" in cell.metadata
    }
    in_kernel = {
        name: not any(output.output_type == "error" for output in cell.outputs)
        for name, cell in cells.items()
    }
    records = json.loads((graded / "ada" / "record.json").read_text())
    graded_checks = {check["name"]: check["passed"] for check in records["results"]["checks"]}
    assert in_kernel == {name: graded_checks[name] for name in in_kernel}
    assert in_kernel == {"motto": True, "learning_rate": False, "broken": False}
    error = next(o for o in cells["learning_rate"].outputs if o.output_type == "error")
    assert "`learning_rate` is not defined" in error.evalue
