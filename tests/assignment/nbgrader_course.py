"""A real nbgrader course for the tests: the kit's course directory and nbgrader's commands.

`Course.create` runs ``mnist-lab nbgrader-course``, ``nbgrader generate_assignment`` and
``release_assignment`` in a temporary folder. Each student fetches the released notebook,
changes it as that student would (the functions below), and submits it under their own
student id; the instructor collects, autogrades, generates the feedback and exports the
grades, all through nbgrader's command line, with a real sqlite gradebook.
"""

from __future__ import annotations

import copy
import csv
import html
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from mnist_lab.assignment import ASSIGNMENT_ID, DEFAULT_COURSE_ID
from mnist_lab.paths import SOLUTION_NOTEBOOK

COMMAND_TIMEOUT_S = 1500  # autograding the full solution trains both models


@dataclass(frozen=True)
class Grade:
    score: float
    max_score: float
    extra_credit: float
    needs_manual_grade: bool = False


@dataclass(frozen=True)
class Course:
    root: Path
    home: Path  # the students' folders and nbgrader's cache

    @classmethod
    def create(cls, folder: Path) -> Course:
        course = cls(folder / "course", folder / "students")
        run([sys.executable, "-m", "mnist_lab", "-q", "nbgrader-course", str(course.root)])
        course.nbgrader("generate_assignment", ASSIGNMENT_ID)
        course.nbgrader("release_assignment", ASSIGNMENT_ID)
        return course

    def nbgrader(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return run([sys.executable, "-m", "nbgrader", *args], cwd=cwd or self.root)

    def _as_student(self, command: str, student: str) -> Path:
        folder = self.home / student
        folder.mkdir(parents=True, exist_ok=True)
        self.nbgrader(
            command,
            ASSIGNMENT_ID,
            f"--course={DEFAULT_COURSE_ID}",
            f"--student={student}",
            f"--Exchange.root={self.root / 'exchange'}",
            f"--Exchange.cache={self.home / 'cache'}",
            cwd=folder,
        )
        return folder / ASSIGNMENT_ID / f"{ASSIGNMENT_ID}.ipynb"

    def hand_in(self, student: str, work: Callable[[NotebookNode], NotebookNode]) -> None:
        """``student`` fetches the assignment, does ``work`` on it and submits it."""
        notebook = self._as_student("fetch_assignment", student)
        nbformat.write(work(nbformat.read(notebook, as_version=4)), notebook)
        self._as_student("submit", student)

    def grade_all(self) -> None:
        """collect > autograde > generate_feedback > export, as the instructor runs them."""
        for step in ("collect", "autograde", "generate_feedback"):
            self.nbgrader(step, ASSIGNMENT_ID)
        self.nbgrader("export")

    def released(self) -> NotebookNode:
        return nbformat.read(self.root / "release" / ASSIGNMENT_ID / f"{ASSIGNMENT_ID}.ipynb", 4)

    def exported(self) -> dict[str, dict[str, str]]:
        """grades.csv, one row per student."""
        with open(self.root / "grades.csv", newline="") as file:
            return {row["student_id"]: row for row in csv.DictReader(file)}

    def grades(self, student: str) -> dict[str, Grade]:
        """Each graded cell's grade in the gradebook, by grade_id."""
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}") as gradebook:
            notebook = gradebook.find_submission_notebook(ASSIGNMENT_ID, ASSIGNMENT_ID, student)
            return {
                grade.name: Grade(
                    grade.score,
                    grade.max_score,
                    grade.extra_credit or 0.0,
                    bool(grade.needs_manual_grade),
                )
                for grade in notebook.grades
            }

    def autograded(self, student: str) -> NotebookNode:
        path = self.root / "autograded" / student / ASSIGNMENT_ID / f"{ASSIGNMENT_ID}.ipynb"
        return nbformat.read(path, 4)

    def feedback(self, student: str) -> str:
        """The student's feedback page, as HTML."""
        path = self.root / "feedback" / student / ASSIGNMENT_ID / f"{ASSIGNMENT_ID}.html"
        return path.read_text(encoding="utf-8")

    def feedback_text(self, student: str) -> str:
        """The feedback page's text, as the student reads it (code is highlighted in spans)."""
        page = re.sub(r"<(style|script)\b.*?</\1>", "", self.feedback(student), flags=re.S)
        return html.unescape(re.sub(r"<[^>]+>", "", page))


def run(command: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    # nbgrader runs `alembic` (to create the gradebook) from PATH: the virtualenv's bin.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    finished = subprocess.run(
        command,
        cwd=cwd,
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
    )
    assert finished.returncode == 0, f"{' '.join(command)}:\n{finished.stderr[-4000:]}"
    assert "There was an error processing" not in finished.stderr, finished.stderr[-4000:]
    return finished


# What students do to the released notebook ------------------------------------------------


def grade_id(cell: NotebookNode) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def cell_with(notebook: NotebookNode, grade_id_: str) -> NotebookNode:
    return next(cell for cell in notebook.cells if grade_id(cell) == grade_id_)


def solved(
    released: NotebookNode, *, only: tuple[str, ...] | None = None, skip: tuple[str, ...] = ()
) -> NotebookNode:
    """The released notebook with the solution's name and register number and its code in
    the solution cells (by grade_id: those in ``only``, or all, less those in ``skip``)."""
    solution = nbformat.read(SOLUTION_NOTEBOOK, 4)
    answers = {grade_id(cell): cell.source for cell in solution.cells if grade_id(cell)}
    own = {cell.id: cell.source for cell in solution.cells if "nbgrader" not in cell.metadata}
    notebook = copy.deepcopy(released)
    for cell in notebook.cells:
        nbgrader = cell.metadata.get("nbgrader", {})
        if nbgrader.get("solution"):
            step = nbgrader["grade_id"]
            if (only is None or step in only) and step not in skip:
                cell.source = answers[step]
        elif "nbgrader" not in cell.metadata:
            cell.source = own[cell.id]
    return notebook


def edit(notebook: NotebookNode, grade_id_: str, old: str, new: str) -> NotebookNode:
    cell = cell_with(notebook, grade_id_)
    assert old in cell.source, (old, cell.source)
    cell.source = cell.source.replace(old, new)
    return notebook
