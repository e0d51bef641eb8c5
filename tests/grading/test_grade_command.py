"""`mnist-lab grade`: the four result files, and exit codes CI can act on."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from mnist_lab.cli import main
from mnist_lab.grading.catalogue import CHECK_NAMES
from mnist_lab.grading.rubric import load_rubric
from tests.grading.conftest import assert_gradescope_results

OUTPUTS = ("results.json", "junit.xml", "feedback.md", "feedback.html")


@pytest.fixture(scope="module")
def graded_template(grader):
    """The template's result files, written by the session's grading of it."""
    return grader.out_dir("template")


@pytest.mark.parametrize("name", OUTPUTS)
def test_every_result_file_is_written(graded_template, name):
    assert (graded_template / name).stat().st_size > 100


def test_results_json_follows_the_gradescope_format(graded_template):
    data = json.loads((graded_template / "results.json").read_text())
    assert_gradescope_results(data)
    answers = len(load_rubric().manual)  # the template's answers: not written yet
    assert [test["status"] for test in data["tests"]] == ["failed"] * (len(CHECK_NAMES) + answers)
    assert "NotImplementedError" in data["output"]


def test_junit_xml_parses_with_one_failing_case_per_check(graded_template):
    root = ET.parse(graded_template / "junit.xml").getroot()
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert [case.get("name") for case in cases] == [f"test_{name}" for name in CHECK_NAMES]
    assert all(case.find("failure") is not None for case in cases)
    assert suite.get("failures") == str(len(CHECK_NAMES))
    # pytest's own file, with each check's points and the student's message, no traceback
    assert suite.get("name") == "mnist-lab" and cases[0].get("classname") == "test_data"
    properties = {p.get("name"): p.get("value") for p in cases[0].iter("property")}
    assert properties["check"] == "data_shapes" and properties["max_points"] == "10"
    failure = cases[0].find("failure")
    assert failure.get("message") == properties["message"] == failure.text
    assert "Traceback" not in failure.text and "NotImplementedError" in failure.text


def test_feedback_shows_hidden_checks_without_their_details(graded, grader):
    results = graded("naive_scan_preprocessing")
    hidden = results.check("scanned_digits")
    assert hidden.hidden and not hidden.passed
    secret = hidden.message.split(";")[0]  # "The model classified 5 of 50 ..."
    out = grader.out_dir("naive_scan_preprocessing")
    for name in OUTPUTS[:1] + OUTPUTS[2:]:
        assert secret not in (out / name).read_text(), name
    assert secret in (out / "junit.xml").read_text()  # instructors see everything
    gradescope = json.loads((out / "results.json").read_text())
    test = next(t for t in gradescope["tests"] if t["name"] == hidden.title)
    assert test["visibility"] == "after_published" and test["status"] == "failed"


def test_a_broken_notebook_is_graded_zero_not_crashed(tmp_path, capsys):
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{ this is not json")
    assert main(["grade", str(broken), "--out", str(tmp_path / "out")]) == 0
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert data["score"] == 0
    assert "Not run: " in data["tests"][0]["output"]
    assert "could not be read as a Jupyter notebook" in data["tests"][0]["output"]
    assert "Score: 0 / 100" in capsys.readouterr().out


def test_a_bad_rubric_stops_the_grader_with_status_2(tmp_path, capsys):
    rubric = tmp_path / "rubric.toml"
    shutil.copy("autograder/rubric.toml", rubric)
    rubric.write_text(rubric.read_text().replace("lab_accuracy = 0.98", "lab_accuracy = 98"))
    notebook = tmp_path / "lab.ipynb"
    notebook.write_text("{}")
    assert main(["grade", str(notebook), "--rubric", str(rubric), "--out", str(tmp_path)]) == 2
    assert "thresholds.lab_accuracy is 98" in capsys.readouterr().err


def test_missing_mnist_stops_the_grader_with_status_2(tmp_path):
    # In a subprocess: --mnist sets MNIST_PATH, which the session's gradings also read.
    notebook = tmp_path / "lab.ipynb"
    notebook.write_text("{}")
    out = tmp_path / "out"
    command = ["--mnist", str(tmp_path / "nowhere.npz"), "grade", str(notebook), "--out", str(out)]
    completed = subprocess.run(
        [sys.executable, "-m", "mnist_lab", *command], capture_output=True, text=True
    )
    assert completed.returncode == 2
    assert "local copy of mnist.npz" in completed.stderr
    assert not out.exists()


def test_a_missing_submission_stops_the_grader_with_status_2(tmp_path, capsys):
    assert main(["grade", str(tmp_path / "missing.ipynb")]) == 2
    assert "No submission at" in capsys.readouterr().err
