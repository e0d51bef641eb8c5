"""Grade each fixture submission once per session, several at a time, from the first test
that uses them; and a checker for the tests' own notebooks.

`graded(name)` returns the `GradingResults` of the fixture notebook called ``name`` (see
`tests.fixtures.submissions`, plus "template": the solution with its solution blocks
cleared, as nbgrader makes a template). The `grader` fixture starts grading every fixture
in a small thread pool; each call waits only for the one it needs. Fixtures are graded with
`tiny_rubric`: the default rubric with the accuracy thresholds a tiny model can reach. The
tiny lab is graded with its lab report (`report_dir`), as ``mnist-lab grade --report`` does.
`tiny_checker` is one checker with `tiny_rubric` for the tests that grade notebooks of their
own, as a batch grader reuses its checkers: each such test saves starting TensorFlow.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from mnist_lab.grading.grade import Checker, grade_submission
from mnist_lab.grading.results import GradingResults
from mnist_lab.grading.rubric import Rubric, load_rubric
from mnist_lab.paths import SOLUTION_NOTEBOOK
from mnist_lab.quiet import import_tensorflow_quietly
from tests.fixtures import submissions
from tests.fixtures.submissions.broken import LAMBDA_MARKERS
from tests.fixtures.submissions.template import template_from_solution

# What a CNN with 8 filters trained on 8,000 images for 5 epochs reliably reaches (about
# 0.93 test accuracy); the fixture trained on 2,000 images reaches about 0.88.
TINY_THRESHOLDS = {
    "lab_accuracy": 0.90,
    "improved_accuracy": 0.85,
    "lab_accuracy_partial_credit": [],  # the default rubric's bands are above 0.90
}
# Gradings run side by side: each waits on kernels and processes part of the time.
WORKERS = 3
# The fixtures graded with their lab report, from the same run.
WITH_REPORT = ("tiny_lab",)

# The lambda_layer_model fixture's markers, made before any fixture is graded so that a
# kernel run as a user of its own (the grader is root) can write in it, as in /tmp.
LAMBDA_MARKERS.mkdir(exist_ok=True)
LAMBDA_MARKERS.chmod(0o1777)


@pytest.fixture(scope="session")
def tiny_rubric() -> Rubric:
    rubric = load_rubric()
    return replace(rubric, thresholds=replace(rubric.thresholds, **TINY_THRESHOLDS))


class SubmissionGrader:
    """Grades every fixture submission in the background; `results` waits for one.

    Each worker thread keeps one checker process for all the notebooks it grades (as a
    batch grader would), which saves starting TensorFlow once per notebook.
    """

    def __init__(self, folder: Path, rubric: Rubric):
        self.folder = folder
        self.rubric = rubric
        self.pool: ThreadPoolExecutor | None = None
        self.futures: dict[str, Future] = {}
        self.checkers: list[Checker] = []
        self.local = threading.local()

    def _grade(self, notebook: Path, report_dir: Path | None) -> GradingResults:
        if not hasattr(self.local, "checker"):
            self.local.checker = Checker.start(self.rubric)
            self.checkers.append(self.local.checker)
        return grade_submission(
            notebook,
            checker=self.local.checker,
            out_dir=notebook.parent / "out",
            report_dir=report_dir,
        )

    def _notebook(self, name: str) -> Path:
        folder = self.folder / name
        folder.mkdir()
        if name == "template":
            return template_from_solution(SOLUTION_NOTEBOOK, folder / "template.ipynb")
        return Path(shutil.copy(submissions.path(name), folder / f"{name}.ipynb"))

    def start(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="grade")
        names = [*submissions.all_submissions(), "template"]
        for name in names:
            notebook = self._notebook(name)
            report_dir = self._report_path(name) if name in WITH_REPORT else None
            self.futures[name] = self.pool.submit(self._grade, notebook, report_dir)

    def results(self, name: str) -> GradingResults:
        if self.pool is None:
            self.start()
        return self.futures[name].result()

    def out_dir(self, name: str) -> Path:
        self.results(name)
        return self.folder / name / "out"

    def _report_path(self, name: str) -> Path:
        return self.folder / name / "report"

    def report_dir(self, name: str) -> Path:
        """The lab report of a fixture in `WITH_REPORT`, built from the graded run."""
        assert name in WITH_REPORT, f"{name} is graded without a report"
        self.results(name)
        return self._report_path(name)

    def stop(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        for checker in self.checkers:
            checker.close()


@pytest.fixture(scope="session")
def grader(tmp_path_factory, tiny_rubric, mnist_path):
    # Here, not in the pool's thread that builds the tiny lab's report: it silences the
    # process's descriptor 2 while TensorFlow loads.
    import_tensorflow_quietly()
    grader = SubmissionGrader(tmp_path_factory.mktemp("graded"), tiny_rubric)
    grader.start()  # now, not at the first result: the first test has work of its own
    yield grader
    grader.stop()


@pytest.fixture(scope="session")
def graded(grader) -> Callable[[str], GradingResults]:
    return grader.results


@pytest.fixture(scope="session")
def tiny_checker(tiny_rubric, mnist_path) -> Checker:
    """A checker with `tiny_rubric`, started on first use and shared by the worker's tests."""
    with Checker.start(tiny_rubric, mnist_path=mnist_path) as checker:
        yield checker


def run_as_ci(*arguments: str) -> subprocess.CompletedProcess:
    """``mnist-lab ARGUMENTS`` in a subprocess, as CI runs it (a notebook can then find the
    command line, --out included, in its process tree); it must exit 0."""
    completed = subprocess.run(
        [sys.executable, "-m", "mnist_lab", *arguments],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    return completed


def grade_as_ci(name: str, folder: Path, file_name: str | None = None) -> Path:
    """`mnist-lab grade` of a copy of the fixture ``name`` (as ``file_name``) in ``folder``,
    with `run_as_ci`; the --out folder."""
    notebook = folder / (file_name or f"{name}.ipynb")
    notebook.write_bytes(submissions.path(name).read_bytes())
    out = folder / "out"
    run_as_ci("grade", str(notebook), "--out", str(out))
    return out


def assert_gradescope_results(data: dict) -> None:
    """Raise AssertionError unless ``data`` follows Gradescope's results.json format.

    https://gradescope-autograders.readthedocs.io/en/latest/specs/: an optional score,
    execution_time, output and visibility, and a list of tests, each with a name, a score,
    a max_score, a status ("passed"/"failed"), an output and a visibility.
    """
    visibilities = {"hidden", "after_due_date", "after_published", "visible"}
    top_level = {"score", "execution_time", "output", "visibility", "stdout_visibility", "tests"}
    assert set(data) <= top_level | {"extra_data", "output_format", "leaderboard"}
    assert isinstance(data["score"], (int, float)) and not isinstance(data["score"], bool)
    assert isinstance(data["execution_time"], (int, float)) and data["execution_time"] >= 0
    assert isinstance(data["output"], str)
    assert isinstance(data["tests"], list) and data["tests"]
    test_keys = {"name", "number", "score", "max_score", "status", "output", "visibility"}
    for test in data["tests"]:
        assert set(test) <= test_keys | {"tags", "extra_data", "output_format", "name_format"}
        assert isinstance(test["name"], str) and test["name"]
        assert all(isinstance(test[key], (int, float)) for key in ("score", "max_score"))
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] in {"passed", "failed"}
        assert isinstance(test["output"], str)
        assert test["visibility"] in visibilities
    assert abs(data["score"] - sum(test["score"] for test in data["tests"])) < 1e-6
