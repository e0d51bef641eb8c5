"""Shared fixtures: the verified MNIST file that CI provides beside the project, and the one
real run of the reference solution that the slow tests share."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from mnist_lab.paths import SOLUTION_NOTEBOOK
from mnist_lab.startup import skip_slow_optional_imports

# The test processes load nbformat as the kit's own processes do, without jsonschema's
# "iri" grammar (mnist_lab.startup): two seconds less in each xdist worker.
skip_slow_optional_imports()

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_MNIST = PROJECT_ROOT.parent / "shared" / "data" / "mnist.npz"
SOLUTION_TIMEOUT_S = 1500  # the solution trains in about 4 minutes on 2 cores


@pytest.fixture(scope="session")
def mnist_path() -> Path:
    """The real mnist.npz: $MNIST_PATH, else ../shared/data/mnist.npz.

    The tests need the real file (no network here); a missing file is a set-up error,
    reported as a failure rather than a skip.
    """
    path = Path(os.environ.get("MNIST_PATH") or SHARED_MNIST).resolve()
    if not path.is_file():
        pytest.fail(f"MNIST file not found at {path}; set MNIST_PATH to a copy of mnist.npz")
    return path


@pytest.fixture(scope="session", autouse=True)
def _mnist_path_for_kernels(mnist_path):
    """Notebook kernels started by the tests inherit MNIST_PATH, as under `.ci/run`."""
    previous = os.environ.get("MNIST_PATH")
    os.environ["MNIST_PATH"] = str(mnist_path.resolve())
    yield
    if previous is None:
        os.environ.pop("MNIST_PATH", None)
    else:
        os.environ["MNIST_PATH"] = previous


# One thread for each TensorFlow process the tests start (kernels, checkers, nbgrader's
# kernels): xdist already runs a worker per core, and two TensorFlow pools on two cores spin
# against each other. Two trainings side by side then take a fifth less time and CPU; the
# results do not change (the notebooks enable op determinism). Set them to override.
TENSORFLOW_THREADS = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}


@pytest.fixture(scope="session", autouse=True)
def _one_tensorflow_thread_per_process():
    """Processes started by the tests inherit `TENSORFLOW_THREADS`, unless already set."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in TENSORFLOW_THREADS.items():
            if name not in os.environ:
                patch.setenv(name, value)
        yield


@dataclass(frozen=True)
class SolutionRun:
    """The reference solution, graded once with its lab report (see `solution_run`)."""

    grade_dir: Path  # results.json, junit.xml, feedback.md, feedback.html
    report_dir: Path  # report.md, report.html, summary.json, figures/, the models
    stdout: str
    stderr: str


@pytest.fixture(scope="session")
def solution_run(tmp_path_factory, mnist_path) -> SolutionRun:
    """The one real run of the reference solution in a test session (both models train).

    ``mnist-lab grade SOLUTION --out GRADE --report REPORT`` in a subprocess, as a user types
    it: the notebook runs behind the sandbox, the checker grades it, and its report is built
    from the same run. The grade's tests and the report's tests all read this one run; the
    tests that use it are kept on one xdist worker (`pytest_collection_modifyitems`).
    """
    folder = tmp_path_factory.mktemp("solution")
    grade_dir, report_dir = folder / "grade", folder / "report"
    command = [sys.executable, "-m", "mnist_lab", "grade", str(SOLUTION_NOTEBOOK)]
    command += ["--out", str(grade_dir), "--report", str(report_dir)]
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=SOLUTION_TIMEOUT_S, cwd=folder
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return SolutionRun(grade_dir, report_dir, finished.stdout, finished.stderr)


# Tests that share a session-scoped run that costs minutes go to one xdist worker each, so
# that the run happens once: the fixture's name is the group's.
SHARED_RUNS = ("nbgrader_course", "solution_run", "grader")
# The groups that take longest are sorted first, so that the workers start them before the
# quick tests, which then fill in at the end (xdist keeps this order: pyproject.toml's
# --no-loadscope-reorder): the shared runs, the limit tests (which mostly wait, and so run
# while the grader's pool keeps both cores busy), then the modules that run notebooks end
# to end. A long module started last leaves one core idle while it finishes.
LIMITS = "limits"
NOTEBOOK_MODULES = (
    "tests/test_run.py",
    "tests/grading/test_batch.py",
    "tests/grading/test_kernel_user.py",
    "tests/classroom/test_batch_class_report.py",
    "tests/deploy/test_run_autograder.py",
    "tests/grading/test_check_files.py",
    "tests/deploy/test_github_workflow.py",
    "tests/grading/test_network.py",
)
START_ORDER = {group: rank for rank, group in enumerate((*SHARED_RUNS, LIMITS, *NOTEBOOK_MODULES))}


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the test ids
def pytest_collection_modifyitems(config, items):
    """Group the tests for xdist's ``--dist loadgroup``: those sharing a costly run; the
    `limits` tests and those grading notebooks at the limits (`at_the_limits`), which then
    run one at a time; and every other test with its module, so that a module's fixtures
    are made once, on one worker. The longest groups go first (`START_ORDER`)."""
    rank = {}
    for item in items:
        names = getattr(item, "fixturenames", ())
        group = next((name for name in SHARED_RUNS if name in names), None)
        if group is None and (item.get_closest_marker("limits") or "at_the_limits" in names):
            group = LIMITS
        group = group or item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))
        rank[item] = START_ORDER.get(group, len(START_ORDER))
    items.sort(key=rank.__getitem__)  # stable: each group keeps its tests' order
