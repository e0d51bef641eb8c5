"""A finished grade-batch folder, written without grading: records as the batch writes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnist_lab.classroom.records import write_code
from mnist_lab.grading.batch import (
    GRADED,
    GRADER_ERROR,
    GRADES_CSV,
    StudentRecord,
    write_grades_csv,
    write_record,
)
from mnist_lab.grading.grade import write_results
from mnist_lab.grading.results import CellError, CheckResult, GradingResults
from mnist_lab.grading.rubric import load_rubric
from tests.fixtures.similarity import planted_class

RUBRIC = load_rubric()


def results_for(
    passed: set[str], accuracy: float | None = None, errors: tuple[CellError, ...] = ()
) -> GradingResults:
    checks = []
    for name, spec in RUBRIC.checks.items():
        ok = name in passed
        message = "Good." if ok else "Not done."
        if name in ("test_accuracy", "improved_accuracy") and accuracy is not None:
            message = f"The grader measured it on the 10,000 MNIST test images: {accuracy:.4f}."
        checks.append(
            CheckResult(
                name=name,
                title=name,
                passed=ok,
                points=spec.points if ok else 0.0,
                max_points=spec.points,
                message=message,
                visibility=spec.visibility,
                extra_credit=spec.extra_credit,
            )
        )
    return GradingResults(tuple(checks), "lab.ipynb", 1.0, errors)


def write_student(out: Path, record: StudentRecord, code: list[str] | None) -> None:
    folder = out / record.student
    if record.results is not None:
        write_results(record.results, folder)
    write_record(record, folder)
    write_code(folder, code)


EVERYTHING = set(RUBRIC.checks)
OUT_OF_MEMORY = CellError(
    12, "Step 5", "dead kernel", "the notebook used more than 6144 MB, the memory limit"
)


@pytest.fixture
def graded_class(tmp_path) -> Path:
    """Seven students: two copies (anna, anna_renamed), full marks and the bonus, a zero, an
    unreadable file, one stopped at the memory limit, and one the grader failed on."""
    code, _ = planted_class()
    students = {
        "anna": (results_for(EVERYTHING, 0.9912), GRADED, code["anna"], 200.0),
        "anna_renamed": (results_for(EVERYTHING, 0.9907), GRADED, code["anna_renamed"], 210.0),
        "boris": (
            results_for(EVERYTHING - {"test_accuracy", "improved_accuracy"}, 0.9712),
            GRADED,
            code["boris"],
            150.0,
        ),
        "chen": (results_for(set(), None, (OUT_OF_MEMORY,)), GRADED, code["chen"], 95.0),
        "dana": (results_for(set()), "unreadable", None, 1.0),
        "erik": (results_for(EVERYTHING - {"improved_accuracy"}, 0.9850), GRADED, None, 120.0),
    }
    records = []
    for student, (results, status, cells, seconds) in students.items():
        message = "" if status == GRADED else "not a notebook Jupyter can open"
        record = StudentRecord(student, status, "0" * 64, "1" * 64, results, message, seconds)
        write_student(tmp_path, record, cells)
        records.append(record)
    # The grader failed on fay's notebook: a row in grades.csv, no record (retried next run).
    records.append(StudentRecord("fay", GRADER_ERROR, "2" * 64, "1" * 64, None, "timeout", 600))
    write_grades_csv(tmp_path / GRADES_CSV, records, RUBRIC.checks)
    return tmp_path
