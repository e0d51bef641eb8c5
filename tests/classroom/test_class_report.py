"""`mnist-lab class-report`: class_report.html, class_summary.csv and similarity.csv."""

from __future__ import annotations

import csv
import io

import pytest

from mnist_lab.classroom.report import similarity_csv, spreadsheet_safe, write_class_report
from mnist_lab.classroom.similarity import Match
from mnist_lab.cli import main


def _summary(folder):
    with open(folder / "class_summary.csv", newline="") as file:
        return {(row["kind"], row["name"]): row["value"] for row in csv.DictReader(file)}


def test_the_summary_holds_the_class_figures(graded_class):
    write_class_report(graded_class)
    summary = _summary(graded_class)
    assert summary["class", "students"] == "7"
    assert summary["class", "not_graded"] == "2"  # dana, fay
    assert summary["score", "at_full_marks"] == "3"  # anna, anna_renamed (110 with the bonus), erik
    assert summary["score", "at_zero"] == "2"  # chen and dana
    assert summary["score", "median"] == "90"  # 0, 0, 80, 100, 110, 110
    assert summary["pass_rate", "improved_accuracy"] == "0.400"  # 2 of the 5 graded
    assert summary["accuracy:test_accuracy", "measured"] == "4"
    assert summary["accuracy:test_accuracy", "at_or_above_bar"] == "3"
    assert summary["problems", "submissions"] == "3"  # dana, fay and chen (out of memory)


def test_similarity_csv_lists_the_copied_pair_and_no_other(graded_class):
    write_class_report(graded_class)
    with open(graded_class / "similarity.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [(row["first"], row["second"]) for row in rows] == [("anna", "anna_renamed")]
    assert float(rows[0]["score"]) >= 0.9 and rows[0]["matching_cells"]


def test_the_page_shows_every_part_self_contained(graded_class):
    write_class_report(graded_class)
    page = (graded_class / "class_report.html").read_text()
    assert page.count('src="data:image/png;base64,') == 4
    assert 'src="http' not in page and "<script" not in page
    for heading in ("Scores", "Checks, the least passed first", "Test accuracy", "Time to grade"):
        assert heading in page
    assert '<a href="chen/feedback.html">chen</a>' in page and "memory limit" in page
    assert '<a href="dana/feedback.html">dana</a>' in page and "unreadable" in page
    assert "grader_error" in page and "run grade-batch again to retry it" in page
    assert "anna and anna_renamed:" in page and page.count('class="hit"') > 20
    assert str(graded_class) not in page


def test_the_command_makes_the_report_again_with_its_threshold(graded_class, capsys):
    assert main(["class-report", str(graded_class), "--similarity-threshold", "0.99"]) == 0
    out = capsys.readouterr().out
    assert "0 pair(s) of similar submissions" in out  # the copy is 96% alike, not 99%
    assert (graded_class / "class_report.html").is_file()


def test_a_bad_threshold_exits_2(graded_class, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["class-report", str(graded_class), "--similarity-threshold", "80"])
    assert exit_.value.code == 2
    assert "is not a share of code in (0, 1]" in capsys.readouterr().err


def test_names_a_spreadsheet_would_run_are_written_as_text():
    match = Match("=HYPERLINK(1)", "+bob", 0.9, 50, ((1, (1,), 1, (1,)),))
    rows = list(csv.reader(io.StringIO(similarity_csv([match]))))
    assert rows[1][:2] == ["'=HYPERLINK(1)", "'+bob"]
    assert spreadsheet_safe("anna") == "anna"
