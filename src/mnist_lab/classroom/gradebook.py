"""Grades for the gradebook: ``mnist-lab export-grades OUT_DIR --format canvas|moodle|csv``.

A roster maps the kit's student names (the notebook file's or folder's name, nbgrader's
student id) to the learning management system's ids. It is a CSV file with the columns
``student`` and ``lms_id``, and optionally ``name`` and ``section``::

    student,lms_id,name,section
    alice,S1001,"Liddell, Alice",A

- ``canvas``: Canvas's gradebook import columns (Student, ID, SIS User ID, SIS Login ID,
  Section, then one column per assignment); ``lms_id`` goes under SIS User ID, which
  Canvas matches students by. Upload it under Grades > Import.
- ``moodle``: a CSV for Moodle's grade import (Grades > Import > CSV file): an ID number
  column to map to "ID number" (or email, if those are your ids) and one column per grade
  item, plus a feedback column.
- ``csv``: the same figures in plain columns, for anything else.

The autograded score (out of the rubric's maximum) and the extra credit earned are separate
columns, so that a gradebook that caps an assignment at its points keeps the bonus. A
student in the roster without a graded submission gets an empty grade and is listed; a
student of the batch missing from the roster is listed and left out (the file cannot name them):
nobody is dropped silently.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mnist_lab.classroom.records import ClassRecord, read_class
from mnist_lab.errors import LabError
from mnist_lab.grading.batch import GRADED, write_atomically
from mnist_lab.grading.results import format_points

FORMATS = ("canvas", "moodle", "csv")
ROSTER_COLUMNS = ("student", "lms_id")
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
DEFAULT_ASSIGNMENT = "MNIST CNN lab"


@dataclass(frozen=True)
class RosterEntry:
    student: str
    lms_id: str
    name: str = ""
    section: str = ""


@dataclass(frozen=True)
class Export:
    """What `export_grades` wrote, and who could not be matched."""

    path: Path
    exported: tuple[str, ...]
    no_submission: tuple[str, ...]  # in the roster, without a graded notebook
    no_score: tuple[str, ...]  # in the roster and the batch, but the grader failed on them
    not_in_roster: tuple[str, ...]  # in the batch, without a roster entry


def read_roster(path: str | os.PathLike) -> list[RosterEntry]:
    """The roster at ``path``; raises `LabError` naming the row for any problem."""
    path = Path(path)
    if not path.is_file():
        raise LabError(f"No roster at {path}: expected a CSV file with columns student,lms_id.")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's byte-order mark is fine
    except (OSError, UnicodeDecodeError) as error:
        raise LabError(f"The roster {path} could not be read as UTF-8 text ({error}).") from error
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [column for column in ROSTER_COLUMNS if column not in header]
    if missing:
        raise LabError(
            f"The roster {path} has no column {', '.join(missing)} (its header: "
            f"{', '.join(header) or 'empty'}). Expected: student,lms_id[,name,section]: the "
            "kit's student name and the id your learning management system knows them by."
        )
    entries, students, ids, problems = [], {}, {}, []
    for line, row in enumerate(reader, start=2):
        row = {(key or "").strip(): (value or "").strip() for key, value in row.items()}
        student, lms_id = row.get("student", ""), row.get("lms_id", "")
        if not student and not lms_id:
            continue
        if not student or not lms_id:
            problems.append(f"line {line}: the {'student' if not student else 'lms_id'} is empty")
            continue
        if student in students:
            problems.append(
                f"line {line}: student {student!r} again (first on line {students[student]})"
            )
            continue
        if lms_id in ids:
            problems.append(f"line {line}: lms_id {lms_id!r} again (first on line {ids[lms_id]})")
            continue
        students[student], ids[lms_id] = line, line
        entries.append(RosterEntry(student, lms_id, row.get("name", ""), row.get("section", "")))
    if problems:
        raise LabError(
            f"The roster {path} has {len(problems)} problem(s): "
            + "; ".join(problems[:10])
            + ". Each student and each lms_id must appear once, both filled in."
        )
    if not entries:
        raise LabError(f"The roster {path} lists no student.")
    return entries


def _figures(record: ClassRecord | None) -> tuple[str, str, str, str]:
    """(autograded score, its maximum, extra credit earned, status) as text."""
    if record is None:
        return "", "", "", "no submission"
    results = record.record.results
    if results is None:
        return "", "", "", record.record.status
    autograded = results.score - results.extra_credit_score
    return (
        format_points(round(autograded, 4)),
        format_points(results.max_score),
        format_points(round(results.extra_credit_score, 4)),
        record.record.status,
    )


def _rows(
    fmt: str, assignment: str, roster: Sequence[RosterEntry], records: dict[str, ClassRecord]
) -> list[list[str]]:
    if fmt == "canvas":
        header = [*CANVAS_COLUMNS, assignment, f"{assignment} extra credit"]
    elif fmt == "moodle":
        header = ["ID number", "Full name", assignment, f"{assignment} extra credit", "Feedback"]
    else:
        header = [
            "student",
            "lms_id",
            "name",
            "section",
            "score",
            "max_score",
            "extra_credit",
            "status",
        ]
    rows = [header]
    for entry in roster:
        record = records.get(entry.student)
        score, maximum, extra, status = _figures(record)
        if fmt == "canvas":
            rows.append([entry.name, "", entry.lms_id, "", entry.section, score, extra])
        elif fmt == "moodle":
            note = "" if status == GRADED else f"Not graded: {status}"
            rows.append([entry.lms_id, entry.name, score, extra, note])
        else:
            rows.append(
                [
                    entry.student,
                    entry.lms_id,
                    entry.name,
                    entry.section,
                    score,
                    maximum,
                    extra,
                    status,
                ]
            )
    return rows


def export_grades(
    out_dir: str | os.PathLike,
    *,
    fmt: str,
    roster: str | os.PathLike,
    output: str | os.PathLike | None = None,
    assignment: str = DEFAULT_ASSIGNMENT,
) -> Export:
    """Write the grades of the batch in ``out_dir`` for ``fmt``; see the module's docstring.

    The file goes to ``output`` (default: ``OUT_DIR/grades_<fmt>.csv``).
    """
    if fmt not in FORMATS:
        raise LabError(f"Unknown format {fmt!r}; expected one of {', '.join(FORMATS)}.")
    entries = read_roster(roster)
    records = {record.student: record for record in read_class(out_dir)}
    path = Path(output) if output is not None else Path(out_dir) / f"grades_{fmt}.csv"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(_rows(fmt, assignment, entries, records))
    write_atomically(path, buffer.getvalue())
    in_roster = {entry.student for entry in entries}
    return Export(
        path,
        tuple(e.student for e in entries if e.student in records),
        tuple(e.student for e in entries if e.student not in records),
        tuple(
            e.student
            for e in entries
            if e.student in records and records[e.student].record.results is None
        ),
        tuple(sorted(student for student in records if student not in in_roster)),
    )
