"""The container side of the Gradescope autograder: which notebook, and what a failure says."""

from __future__ import annotations

import json
import re
import shutil
import sys

import pytest

from mnist_lab.cli import build_parser
from mnist_lab.deploy import autograder
from mnist_lab.deploy.autograder import (
    NOT_GRADED,
    Layout,
    SubmissionError,
    failure_message,
    find_notebook,
    grade_in_container,
)
from mnist_lab.grading.rubric import DEFAULT_RUBRIC
from tests.grading.conftest import assert_gradescope_results

CHOSEN = {
    "the only notebook": (["mnist_cnn_lab.ipynb", "notes.md"], "mnist_cnn_lab.ipynb"),
    "another name, alone": (["work/my lab.ipynb"], "work/my lab.ipynb"),
    "checkpoint copies ignored": (
        [".ipynb_checkpoints/lab-checkpoint.ipynb", "lab.ipynb"],
        "lab.ipynb",
    ),
    "macOS zip leftovers ignored": (
        ["__MACOSX/._mnist_cnn_lab.ipynb", "lab/._lab.ipynb", "lab/lab.ipynb"],
        "lab/lab.ipynb",
    ),
    "the assignment's name wins": (
        ["scratch.ipynb", "lab/mnist_cnn_lab.ipynb"],
        "lab/mnist_cnn_lab.ipynb",
    ),
}

REFUSED = {
    "nothing uploaded": ([], "holds no Jupyter notebook"),
    "no notebook": (["lab.py", "lab.html"], "Upload your completed mnist_cnn_lab.ipynb"),
    "two others": (["a.ipynb", "b/c.ipynb"], "2 notebooks (a.ipynb, b/c.ipynb)"),
    "two with the name": (
        ["v1/mnist_cnn_lab.ipynb", "v2/mnist_cnn_lab.ipynb"],
        "Upload exactly one .ipynb file",
    ),
}


def upload(folder, names):
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("{}")


@pytest.mark.parametrize("case", CHOSEN, ids=list(CHOSEN))
def test_the_notebook_to_grade(case, tmp_path):
    names, chosen = CHOSEN[case]
    upload(tmp_path, names)
    assert find_notebook(tmp_path) == tmp_path / chosen


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_submissions_without_one_clear_notebook_are_refused(case, tmp_path):
    names, message = REFUSED[case]
    upload(tmp_path, names)
    with pytest.raises(SubmissionError, match=re.escape(message)):
        find_notebook(tmp_path)


FAILURES = {
    "could not grade": (2, "mnist-lab grade: No rubric at x", ["exit status 2", "No rubric at x"]),
    "crashed": (1, "Traceback ...\nKeyError: 'x'", ["exit status 1", "KeyError: 'x'"]),
    "killed": (-9, "", ["signal SIGKILL", "ran out of memory", "no message"]),
    "silent": (0, "", ["finished without writing its results"]),
}


@pytest.mark.parametrize("case", FAILURES, ids=list(FAILURES))
def test_failure_messages_say_what_happened_and_what_to_do(case, tmp_path):
    status, stderr_tail, phrases = FAILURES[case]
    message = failure_message(tmp_path / "lab.ipynb", status, stderr_tail)
    assert message.startswith("Your notebook lab.ipynb was not graded: ")
    assert "tell your instructor" in message
    for phrase in phrases:
        assert phrase in message


@pytest.fixture
def root(tmp_path):
    (tmp_path / "source").mkdir()
    shutil.copy(DEFAULT_RUBRIC, tmp_path / "source" / "rubric.toml")
    upload(tmp_path / "submission", ["mnist_cnn_lab.ipynb"])
    return tmp_path


def test_a_killed_grader_gives_every_check_zero_and_says_why(root, monkeypatch):
    monkeypatch.setattr(autograder, "run_grader", lambda layout, notebook: (-9, "Killed"))
    assert grade_in_container(root) is False
    data = json.loads(Layout(root).results_json.read_text())
    assert_gradescope_results(data)
    assert data["score"] == 0 and "signal SIGKILL" in data["output"]
    hidden = [test for test in data["tests"] if test["visibility"] == "after_published"]
    assert hidden and NOT_GRADED not in hidden[0]["output"]  # hidden checks stay opaque
    assert (root / "results" / "feedback.md").is_file()


def test_results_left_by_anyone_but_this_run_s_grader_are_replaced(root, monkeypatch):
    results = Layout(root).results_json
    results.parent.mkdir()
    planted = {"score": 110, "tests": [{"name": "x", "score": 110, "max_score": 110}]}
    results.write_text(json.dumps(planted))
    monkeypatch.setattr(autograder, "run_grader", lambda layout, notebook: (0, ""))
    assert grade_in_container(root) is False
    data = json.loads(results.read_text())
    assert data["score"] == 0 and "without writing its results" in data["output"]


def test_the_grade_command_uses_the_shipped_rubric_and_mnist(tmp_path):
    notebook = tmp_path / "submission" / "lab.ipynb"
    command = autograder.grade_command(Layout(tmp_path), notebook)
    assert command[:3] == [sys.executable, "-m", "mnist_lab"]
    args = build_parser().parse_args(command[3:])
    assert (args.command, args.submission) == ("grade", notebook)
    assert args.mnist == tmp_path / "source" / "mnist.npz"
    assert args.rubric == tmp_path / "source" / "rubric.toml"
    assert args.out == tmp_path / "results"
