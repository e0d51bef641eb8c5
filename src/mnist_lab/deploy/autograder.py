"""What Gradescope's ``run_autograder`` runs for each submission, inside the grading container.

It finds the student's notebook in ``/autograder/submission``, grades it with ``mnist-lab
grade`` (the rubric, MNIST and scans that `gradescope` packed into ``/autograder/source``),
and makes sure ``/autograder/results/results.json`` exists afterwards, whatever happened: no
notebook, several, a grader that could not grade or crashed. Each of those gives every check
0 points and an ``output`` that tells the student what happened and what to do, because on
Gradescope a missing results.json shows students only "The autograder failed to execute".

The grader runs as a child process, so that even a crash of the grader or a kernel killed
for memory ends here, where the failure can still be reported. ``$AUTOGRADER_ROOT``
replaces ``/autograder`` (the tests grade in a temporary folder laid out the same way).
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from mnist_lab.assignment import ASSIGNMENT_ID
from mnist_lab.errors import LabError
from mnist_lab.paths import SAMPLES_ENV_VAR

logger = logging.getLogger(__name__)

ROOT_ENV_VAR = "AUTOGRADER_ROOT"
DEFAULT_ROOT = Path("/autograder")
# The files of the autograder zip, as they lie in /autograder/source.
SETUP_SCRIPT = "setup.sh"
RUN_SCRIPT = "run_autograder"
RUBRIC_FILE = "rubric.toml"
SAMPLES_FOLDER = "sample_images"
MNIST_FILE = "mnist.npz"
ASSIGNMENT_NOTEBOOK = f"{ASSIGNMENT_ID}.ipynb"
# Folders that hold copies of notebooks rather than the student's work.
IGNORED_FOLDERS = frozenset({".ipynb_checkpoints", "__MACOSX"})
# The grader's last lines of stderr kept to explain a failure.
STDERR_TAIL_LINES = 20
NOT_GRADED = "Not graded: see the message at the top of the results."


class SubmissionError(LabError):
    """The submission holds no notebook to grade, or several that could be it."""


@dataclass(frozen=True)
class Layout:
    """The folders Gradescope sets up: the zip in source/, the upload in submission/."""

    root: Path

    @property
    def source(self) -> Path:
        return self.root / "source"

    @property
    def submission(self) -> Path:
        return self.root / "submission"

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def results_json(self) -> Path:
        return self.results / "results.json"


def find_notebook(submission: Path) -> Path:
    """The notebook to grade: the only .ipynb uploaded, else the one named like the lab's.

    Raises `SubmissionError` saying what was found and what to upload instead.
    """
    notebooks = _notebooks_in(submission)
    if len(notebooks) == 1:
        return notebooks[0]
    if not notebooks:
        raise SubmissionError(
            "Your submission holds no Jupyter notebook (no .ipynb file). Upload your "
            f"completed {ASSIGNMENT_NOTEBOOK} (in Jupyter: File > Download) and submit again."
        )
    named = [path for path in notebooks if path.name == ASSIGNMENT_NOTEBOOK]
    if len(named) == 1:
        return named[0]
    listing = ", ".join(str(path.relative_to(submission)) for path in notebooks)
    raise SubmissionError(
        f"Your submission holds {len(notebooks)} notebooks ({listing}), and the autograder "
        f"cannot tell which one to grade. Upload exactly one .ipynb file, your completed "
        f"{ASSIGNMENT_NOTEBOOK}, and submit again."
    )


def _notebooks_in(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.rglob("*.ipynb")
        if path.is_file()
        and not path.name.startswith("._")  # macOS resource forks in zipped uploads
        and not IGNORED_FOLDERS.intersection(path.relative_to(folder).parts)
    )


def grade_command(layout: Layout, notebook: Path) -> list[str]:
    """``mnist-lab grade`` with the rubric and MNIST shipped in the zip."""
    source = layout.source
    return [
        sys.executable,
        "-m",
        "mnist_lab",
        "--mnist",
        str(source / MNIST_FILE),
        "grade",
        str(notebook),
        "--rubric",
        str(source / RUBRIC_FILE),
        "--out",
        str(layout.results),
    ]


def run_grader(layout: Layout, notebook: Path) -> tuple[int, str]:
    """Run ``mnist-lab grade``; its output goes to the instructor's log as it comes.

    Returns the exit status and the last lines it wrote to stderr.
    """
    environment = {**os.environ, SAMPLES_ENV_VAR: str(layout.source / SAMPLES_FOLDER)}
    process = subprocess.Popen(
        grade_command(layout, notebook),
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        env=environment,
    )
    tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
    for line in process.stderr:
        sys.stderr.write(line)
        tail.append(line.rstrip())
    return process.wait(), "\n".join(line for line in tail if line)


def failure_message(notebook: Path, status: int, stderr_tail: str) -> str:
    """What to tell a student whose notebook the grader could not finish grading."""
    if status == 0:
        what = "the grader finished without writing its results"
    elif status < 0:
        what = f"the grader was stopped by signal {_signal_name(-status)}"
        if -status == signal.SIGKILL:
            what += " (often: the machine ran out of memory)"
    else:
        what = f"the grader stopped with exit status {status}"
    reason = stderr_tail.splitlines()[-1] if stderr_tail else "no message"
    return (
        f"Your notebook {notebook.name} was not graded: {what}. The grader said: {reason}\n"
        "This is usually a problem with the autograder, not with your work: submit again, and "
        "if it happens again, tell your instructor. If your notebook uses a lot of memory "
        "(very large models or arrays), make it smaller."
    )


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def write_failure(layout: Layout, message: str, notebook: str, seconds: float) -> None:
    """Write results with every check at 0 and ``message`` on top, for the student to read."""
    from mnist_lab.grading.grade import write_results
    from mnist_lab.grading.results import GradingResults
    from mnist_lab.grading.rubric import load_rubric
    from mnist_lab.grading.scoring import all_failed

    try:
        checks = all_failed(load_rubric(layout.source / RUBRIC_FILE), NOT_GRADED)
    except LabError as error:  # the shipped rubric itself is broken: no checks to list
        logger.error("Could not read the shipped rubric: %s", error)
        _write_bare_failure(layout, message, seconds)
        return
    results = GradingResults(checks, notebook, seconds, notes=(message,))
    write_results(results, layout.results)


def _write_bare_failure(layout: Layout, message: str, seconds: float) -> None:
    data = {"score": 0, "execution_time": round(seconds, 1), "output": message, "tests": []}
    staged = layout.results / f".results.json.{os.getpid()}.partial"
    staged.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(staged, layout.results_json)


def has_results(layout: Layout) -> bool:
    """Whether results.json holds a JSON object with a list of tests."""
    try:
        data = json.loads(layout.results_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and isinstance(data.get("tests"), list)


def grade_in_container(root: Path) -> bool:
    """Grade the submission under ``root``; True when the grader's own results were written.

    Either way, ``root/results/results.json`` exists when this returns.
    """
    layout = Layout(root)
    started = time.perf_counter()
    layout.results.mkdir(parents=True, exist_ok=True)
    layout.results_json.unlink(missing_ok=True)  # only this run's grader may write it
    try:
        notebook = find_notebook(layout.submission)
    except SubmissionError as error:
        logger.error("%s", error)
        write_failure(layout, str(error), "submission", time.perf_counter() - started)
        return False
    logger.info("Grading %s", notebook.relative_to(layout.submission))
    status, stderr_tail = run_grader(layout, notebook)
    if status == 0 and has_results(layout):
        return True
    message = failure_message(notebook, status, stderr_tail)
    logger.error("%s", message)
    write_failure(layout, message, notebook.name, time.perf_counter() - started)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mnist_lab.deploy.autograder",
        description="Grade a Gradescope submission; always leave results/results.json.",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(os.environ.get(ROOT_ENV_VAR) or DEFAULT_ROOT),
        help=f"the autograder folder (default: ${ROOT_ENV_VAR}, else {DEFAULT_ROOT})",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="run_autograder: %(message)s")
    grade_in_container(args.root)
    return 0  # results.json is there either way: Gradescope shows it to the student


if __name__ == "__main__":
    raise SystemExit(main())
