"""The zip's run_autograder in a Gradescope-like folder: always a valid results.json.

Each test lays out /autograder in a temporary folder (source/ from the zip, the venv that the
zip's setup.sh made, submission/, results/), runs run_autograder from there with a PATH that
holds no Python with the kit and no MNIST_PATH, and validates results.json against
Gradescope's format.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from mnist_lab.deploy.autograder import NOT_GRADED
from mnist_lab.grading.catalogue import CHECK_NAMES
from mnist_lab.grading.rubric import load_rubric
from tests.deploy.conftest import QUICK_FAILURE, quick_notebook, run_autograder
from tests.grading.conftest import assert_gradescope_results


def results_of(root) -> dict:
    data = json.loads((root / "results" / "results.json").read_text())
    assert_gradescope_results(data)
    return data


def assert_not_graded(data: dict, *phrases: str) -> None:
    """Score 0, every check listed as not graded, and the reason on top."""
    assert data["score"] == 0
    assert [test["status"] for test in data["tests"]] == ["failed"] * len(CHECK_NAMES)
    visible = [test["output"] for test in data["tests"] if test["visibility"] == "visible"]
    assert visible and set(visible) == {NOT_GRADED}
    for phrase in phrases:
        assert phrase in data["output"]


def test_the_lab_notebook_is_graded_with_the_shipped_rubric_mnist_and_scans(autograder_root):
    submission = autograder_root / "submission"
    quick_notebook(submission / "mnist_cnn_lab.ipynb")
    quick_notebook(submission / ".ipynb_checkpoints" / "mnist_cnn_lab-checkpoint.ipynb")
    quick_notebook(submission / "drafts" / "attempt.ipynb", "ValueError: the wrong notebook")
    completed = run_autograder(autograder_root)
    assert completed.returncode == 0, completed.stderr
    data = results_of(autograder_root)
    manual = load_rubric().manual  # the answers graded by hand follow the checks, worth 0
    assert data["score"] == 0 and len(data["tests"]) == len(CHECK_NAMES) + len(manual)
    assert [t["max_score"] for t in data["tests"][len(CHECK_NAMES) :]] == [0] * len(manual)
    assert f"cell 1: {QUICK_FAILURE}" in data["output"]
    assert "wrong notebook" not in json.dumps(data)
    assert "are not defined" in data["tests"][0]["output"]  # graded, not "not graded"
    suite = ET.parse(autograder_root / "results" / "junit.xml").getroot().find("testsuite")
    assert [case.get("name") for case in suite.findall("testcase")] == [
        f"test_{name}" for name in CHECK_NAMES
    ]


def test_no_notebook_tells_the_student_what_to_upload(autograder_root):
    (autograder_root / "submission" / "lab.py").write_text("print('my lab')\n")
    assert run_autograder(autograder_root).returncode == 0
    assert_not_graded(
        results_of(autograder_root), "no Jupyter notebook", "Upload your completed mnist_cnn_lab"
    )


def test_several_notebooks_ask_for_exactly_one(autograder_root):
    for name in ("lab_v1.ipynb", "lab_v2.ipynb"):
        quick_notebook(autograder_root / "submission" / name)
    assert run_autograder(autograder_root).returncode == 0
    assert_not_graded(
        results_of(autograder_root),
        "2 notebooks (lab_v1.ipynb, lab_v2.ipynb)",
        "Upload exactly one .ipynb file",
    )


def test_a_grader_that_cannot_grade_still_leaves_results(autograder_root):
    quick_notebook(autograder_root / "submission" / "mnist_cnn_lab.ipynb")
    (autograder_root / "source" / "mnist.npz").unlink()
    stale = {"score": 100, "tests": []}  # e.g. written by an earlier run or the notebook
    (autograder_root / "results").mkdir()
    (autograder_root / "results" / "results.json").write_text(json.dumps(stale))
    assert run_autograder(autograder_root).returncode == 0
    data = results_of(autograder_root)
    assert_not_graded(data, "mnist_cnn_lab.ipynb was not graded", "exit status 2")
    assert "local copy of mnist.npz" in data["output"]  # the grader's own reason


def test_a_broken_rubric_still_gives_the_student_a_message(autograder_root):
    quick_notebook(autograder_root / "submission" / "mnist_cnn_lab.ipynb")
    (autograder_root / "source" / "rubric.toml").write_text("[limits\n")
    assert run_autograder(autograder_root).returncode == 0
    data = json.loads((autograder_root / "results" / "results.json").read_text())
    assert data["score"] == 0 and data["tests"] == []
    assert "was not graded" in data["output"] and "not valid TOML" in data["output"]


def test_a_kit_that_cannot_start_still_gives_the_student_a_message(autograder_root, tmp_path):
    (autograder_root / "venv").unlink()  # the image's kit is gone
    broken = tmp_path / "bin"
    broken.mkdir()
    (broken / "python").write_text("#!/bin/sh\nexit 1\n")
    (broken / "python").chmod(0o755)
    quick_notebook(autograder_root / "submission" / "mnist_cnn_lab.ipynb")
    completed = run_autograder(autograder_root, path=f"{broken}:/usr/bin:/bin")
    assert completed.returncode == 0
    data = json.loads((autograder_root / "results" / "results.json").read_text())
    assert data["score"] == 0 and "autograder could not start" in data["output"]
    assert "tell your instructor" in data["output"]
    assert "could not run" in completed.stderr
