"""A finished ``grade-batch`` folder, read back: each student's record and own code.

`read_class` is what the class report, the similarity check and the grade export start
from. It refuses a folder that is not a finished batch (no grades.csv, or students whose
results are missing) with what to do about it.
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from mnist_lab.errors import LabError
from mnist_lab.grading.batch import (
    GRADER_ERROR,
    GRADES_CSV,
    RECORD,
    StudentRecord,
    read_record,
    write_atomically,
)

CODE_FILE = "code.json"  # the graded notebook's code cells, kept by grade-batch for similarity
# The grader's measured accuracy, as the accuracy checks' messages state it.
MEASURED_ACCURACY = re.compile(r"test images: (\d\.\d+)")


@dataclass(frozen=True)
class ClassRecord:
    """One student of a graded class."""

    student: str
    record: StudentRecord
    code: tuple[str, ...] | None  # None when the notebook could not be read

    def measured_accuracy(self, check: str) -> float | None:
        """The accuracy the grader measured for a model check, or None if it measured none."""
        results = self.record.results
        if results is None or check not in results.names:
            return None
        found = MEASURED_ACCURACY.search(results.check(check).message)
        return float(found.group(1)) if found else None


def write_code(folder: Path, code: list[str] | None) -> None:
    """Keep the graded notebook's code cells beside its results (for `similarity`)."""
    write_atomically(folder / CODE_FILE, json.dumps(code))


def _read_code(folder: Path) -> tuple[str, ...] | None:
    try:
        code = json.loads((folder / CODE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(code, list) or not all(isinstance(cell, str) for cell in code):
        return None
    return tuple(code)


def read_class(out_dir: str | os.PathLike) -> list[ClassRecord]:
    """Every student of the finished batch in ``out_dir``, in grades.csv's order."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise LabError(
            f"{out_dir} is not a folder. Give the --out folder of a finished "
            "`mnist-lab grade-batch` run."
        )
    grades = out_dir / GRADES_CSV
    if not grades.is_file():
        raise LabError(
            f"{out_dir} holds no {GRADES_CSV}: it is not the output of `mnist-lab grade-batch`, "
            "or that run was stopped before its first student was graded. Run "
            f"`mnist-lab grade-batch SUBMISSIONS_DIR --out {out_dir.name}` (again) first."
        )
    with open(grades, newline="", encoding="utf-8") as file:
        rows = [row for row in csv.DictReader(file) if row.get("student")]
    if not rows:
        raise LabError(f"{grades} lists no student: there is nothing to report or export.")
    records, unfinished = [], []
    for row in rows:
        student = row["student"]
        record = read_record(out_dir / student) if (out_dir / student).is_dir() else None
        if record is None and row.get("status") == GRADER_ERROR:  # kept out of record.json
            record = StudentRecord(
                student,
                GRADER_ERROR,
                row.get("sha256", ""),
                "",
                None,
                "the grader failed on this notebook; run grade-batch again to retry it",
                float(row.get("seconds") or 0),
            )
        if record is None:
            unfinished.append(student)
            continue
        records.append(ClassRecord(student, record, _read_code(out_dir / student)))
    if unfinished:
        listed = ", ".join(unfinished[:10]) + (" ..." if len(unfinished) > 10 else "")
        raise LabError(
            f"{out_dir} is a half-finished batch: {len(unfinished)} student(s) of {GRADES_CSV} "
            f"have no {RECORD} ({listed}). Run the same `mnist-lab grade-batch` command again "
            "to finish it; finished students are reused."
        )
    return records
