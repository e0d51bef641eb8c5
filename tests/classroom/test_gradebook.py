"""`mnist-lab export-grades`: Canvas's and Moodle's import formats, a roster, nothing dropped."""

from __future__ import annotations

import csv
import shutil

import pytest

from mnist_lab.classroom.gradebook import CANVAS_COLUMNS, export_grades, read_roster
from mnist_lab.cli import main
from mnist_lab.errors import LabError

ROSTER = """\
student,lms_id,name,section
anna,S1001,"Lindqvist, Anna",A
boris,S1002,Boris Petrov,A
chen,S1003,Chen Wei,B
dana,S1004,Dana Cohen,B
erik,S1005,Erik Berg,B
zoe,S1006,Zoe Adams,B
"""


@pytest.fixture
def roster(tmp_path_factory):
    path = tmp_path_factory.mktemp("roster") / "roster.csv"
    path.write_text(ROSTER)
    return path


def _read(path):
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.reader(file))


def test_canvas_gets_its_import_columns_and_each_roster_student(graded_class, roster):
    done = export_grades(graded_class, fmt="canvas", roster=roster)
    rows = _read(done.path)
    assert rows[0] == [*CANVAS_COLUMNS, "MNIST CNN lab", "MNIST CNN lab extra credit"]
    by_id = {row[2]: row for row in rows[1:]}
    assert by_id["S1001"] == ["Lindqvist, Anna", "", "S1001", "", "A", "100", "10"]
    assert by_id["S1002"][5:] == ["80", "0"]  # without the accuracy check (20) and the bonus
    assert by_id["S1006"][5:] == ["", ""]  # zoe handed nothing in: empty, not zero
    assert done.path.name == "grades_canvas.csv"


def test_moodle_gets_an_id_column_a_grade_per_item_and_feedback(graded_class, roster):
    done = export_grades(graded_class, fmt="moodle", roster=roster)
    rows = _read(done.path)
    assert rows[0] == [
        "ID number",
        "Full name",
        "MNIST CNN lab",
        "MNIST CNN lab extra credit",
        "Feedback",
    ]
    by_id = {row[0]: row for row in rows[1:]}
    assert by_id["S1005"] == ["S1005", "Erik Berg", "100", "0", ""]
    assert by_id["S1004"] == ["S1004", "Dana Cohen", "0", "0", "Not graded: unreadable"]
    assert by_id["S1006"][2:] == ["", "", "Not graded: no submission"]


def test_nobody_is_dropped_silently(graded_class, roster):
    done = export_grades(graded_class, fmt="csv", roster=roster)
    assert done.no_submission == ("zoe",)
    assert done.no_score == ()  # fay, on whom the grader failed, is not in this roster
    assert done.not_in_roster == ("anna_renamed", "fay")
    rows = _read(done.path)
    assert [row[0] for row in rows[1:]] == ["anna", "boris", "chen", "dana", "erik", "zoe"]
    assert rows[0] == [
        "student",
        "lms_id",
        "name",
        "section",
        "score",
        "max_score",
        "extra_credit",
        "status",
    ]


def test_the_command_lists_who_could_not_be_matched(graded_class, roster, capsys):
    argv = ["export-grades", str(graded_class), "--format", "canvas", "--roster", str(roster)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "5 student(s) written to" in captured.out
    assert "without a graded notebook (empty grade in the file): zoe" in captured.err
    assert "In the batch but not in the roster" in captured.err
    assert "anna_renamed, fay" in captured.err


BAD_ROSTERS = {
    "duplicate student": (
        "student,lms_id\nanna,S1\nanna,S2\n",
        "line 3: student 'anna' again (first on line 2)",
    ),
    "duplicate id": ("student,lms_id\nanna,S1\nboris,S1\n", "line 3: lms_id 'S1' again"),
    "missing id": ("student,lms_id\nanna,\n", "line 2: the lms_id is empty"),
    "missing column": ("student,email\nanna,a@x\n", "has no column lms_id"),
    "empty": ("student,lms_id\n", "lists no student"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROSTERS))
def test_a_bad_roster_is_refused_naming_the_line(tmp_path, case):
    text, phrase = BAD_ROSTERS[case]
    path = tmp_path / "roster.csv"
    path.write_text(text)
    with pytest.raises(LabError) as error:
        read_roster(path)
    assert phrase in str(error.value)


def test_an_unknown_format_exits_2_with_the_choices(graded_class, roster, capsys):
    argv = ["export-grades", str(graded_class), "--format", "blackboard", "--roster", str(roster)]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "choose from 'canvas', 'moodle', 'csv'" in capsys.readouterr().err
    with pytest.raises(LabError, match="Unknown format 'blackboard'"):
        export_grades(graded_class, fmt="blackboard", roster=roster)


def test_an_empty_folder_is_not_a_batch(tmp_path, roster, capsys):
    argv = ["export-grades", str(tmp_path), "--format", "csv", "--roster", str(roster)]
    assert main(argv) == 2
    assert "holds no grades.csv" in capsys.readouterr().err


def test_a_half_finished_batch_says_to_run_it_again(graded_class, roster):
    shutil.rmtree(graded_class / "boris")
    with pytest.raises(LabError, match=r"half-finished batch: 1 student\(s\).*\(boris\)"):
        export_grades(graded_class, fmt="canvas", roster=roster)


def test_a_student_the_grader_failed_on_is_listed_with_an_empty_grade(graded_class, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("student,lms_id\nanna,S1\nfay,S7\n")
    done = export_grades(graded_class, fmt="canvas", roster=roster)
    assert done.no_score == ("fay",)
    assert {row[2]: row[5] for row in _read(done.path)[1:]} == {"S1": "100", "S7": ""}
