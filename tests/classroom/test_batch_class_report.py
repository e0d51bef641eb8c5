"""grade-batch writes the class report: a real batch with two disguised copies in it."""

from __future__ import annotations

import csv
from dataclasses import replace

import nbformat
import pytest

from mnist_lab.grading.batch import grade_batch
from mnist_lab.grading.rubric import load_rubric
from tests.fixtures.similarity import INDEPENDENT, everything, filled_notebook

# Each notebook gets a second in all, one at a time, so that few or none of its cells run:
# what matters here is the code handed in, not its run (the batch grader's own tests train
# models, two at a time).
RUBRIC = load_rubric()
QUICK = replace(RUBRIC, limits=replace(RUBRIC.limits, notebook_timeout_s=1))


@pytest.fixture(scope="module")
def batch(tmp_path_factory, mnist_path):
    folder = tmp_path_factory.mktemp("class")
    handed_in = folder / "handed_in"
    handed_in.mkdir()
    notebooks = {
        "anna": filled_notebook(INDEPENDENT["anna"]),
        "boris": filled_notebook(INDEPENDENT["boris"]),
        "carl": filled_notebook(everything(INDEPENDENT["anna"]), reorder=True),
        "dora": filled_notebook({}),  # the template, untouched
    }
    for student, notebook in notebooks.items():
        nbformat.write(notebook, handed_in / f"{student}.ipynb")
    out = folder / "out"
    summary = grade_batch(handed_in, out, workers=1, rubric=QUICK)
    return handed_in, out, summary


def test_similarity_csv_lists_the_copies_and_no_other_pair(batch):
    _, out, summary = batch
    assert summary.graded == ("anna", "boris", "carl", "dora")
    with open(out / "similarity.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [(row["first"], row["second"]) for row in rows] == [("anna", "carl")]


def test_the_class_report_and_summary_are_written(batch):
    _, out, _ = batch
    page = (out / "class_report.html").read_text()
    assert page.count("data:image/png;base64,") == 4
    assert "anna and carl:" in page
    with open(out / "class_summary.csv", newline="") as file:
        rows = {(row["kind"], row["name"]): row["value"] for row in csv.DictReader(file)}
    assert rows["class", "students"] == "4"
    assert all((out / student / "code.json").is_file() for student in ("anna", "dora"))


def test_a_resumed_run_writes_the_report_again(batch):
    handed_in, out, _ = batch
    (out / "class_report.html").unlink()
    summary = grade_batch(handed_in, out, workers=1, rubric=QUICK)
    assert summary.graded == () and len(summary.reused) == 4
    assert "anna and carl:" in (out / "class_report.html").read_text()
