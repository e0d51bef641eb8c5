"""End to end: the lab report of the reference solution, from its one real run.

Slow (the real models train: about 4 minutes on 2 cores), so the solution runs once per test
session (`solution_run`: ``mnist-lab grade --report`` in a subprocess, as a user types it)
and every test here reads that run's report; its grade is checked in
tests/grading/test_solution_grade.py. `mnist-lab run` itself runs end to end in a subprocess
in tests/test_run.py, on a notebook that trains in seconds. CI runs these.
"""

from __future__ import annotations

import csv
import json

import pytest
from PIL import Image

from mnist_lab.grading.rubric import load_rubric
from mnist_lab.paths import SOLUTION_NOTEBOOK

pytestmark = pytest.mark.slow

THRESHOLDS = load_rubric().thresholds  # the lab's bar and the bonus's, as graded
FIGURES = {
    "accuracy_curve.png",
    "loss_curve.png",
    "confusion_matrix.png",
    "model_diagram.png",
    "test_predictions.png",
    "scanned_digits.png",
}


@pytest.fixture(scope="module")
def report(solution_run):
    return solution_run.report_dir


def test_grading_shows_progress_without_tensorflow_noise(solution_run):
    assert "training epoch 5/5" in solution_run.stderr
    assert "[cell 1/" in solution_run.stderr
    assert "oneDNN" not in solution_run.stderr and "absl" not in solution_run.stderr
    assert "Lab report: " in solution_run.stdout


@pytest.fixture(scope="module")
def summary(report):
    return json.loads((report / "summary.json").read_text())


def test_lab_model_reaches_the_lab_accuracy(summary):
    assert summary["test_accuracy"] >= THRESHOLDS.lab_accuracy
    assert summary["epochs"] == 5
    assert summary["parameter_count"] == 320 + 5408 * 32 + 32 + 32 * 64 + 64 + 64 * 10 + 10
    assert 0 < summary["training_seconds"] < summary["notebook_seconds"]


def test_improved_model_reaches_the_bonus_accuracy(summary):
    assert summary["improved_model"]["test_accuracy"] >= THRESHOLDS.improved_accuracy
    assert summary["improved_model"]["epochs"] >= 1


def test_solution_names_its_author(summary):
    assert summary["student_name"] == "Reference Solution"
    assert summary["register_number"] == "000000000"


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figures_are_valid_pngs_of_sensible_size(report, name):
    with Image.open(report / "figures" / name) as image:
        assert image.format == "PNG"
        width, height = image.size
    assert 300 <= width <= 4000 and 200 <= height <= 6000
    assert (report / "figures" / name).stat().st_size > 10_000  # not a blank canvas


def test_classification_report_covers_every_digit(report, summary):
    with open(report / "classification_report.csv", newline="") as file:
        rows = {row[next(iter(row))]: row for row in csv.DictReader(file)}
    digits = [str(d) for d in range(10)]
    assert all(d in rows for d in digits)
    assert sum(int(float(rows[d]["support"])) for d in digits) == 10000


def test_metrics_csv_is_the_history(report):
    with open(report / "metrics.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["epoch"] for row in rows] == ["1", "2", "3", "4", "5"]
    assert {"accuracy", "loss", "val_accuracy", "val_loss"} <= set(rows[0])


def test_saved_model_loads_in_safe_mode_and_matches_the_summary(report, summary):
    import keras

    from mnist_lab.data import load_mnist
    from mnist_lab.report.build import evaluate

    model = keras.saving.load_model(report / "model.keras", safe_mode=True)
    _, (x_test, y_test) = load_mnist()
    _, accuracy, _ = evaluate(model, x_test, y_test)
    assert accuracy == pytest.approx(summary["test_accuracy"], abs=1e-6)


def test_report_documents_follow_the_write_up(report, summary):
    markdown = (report / "report.md").read_text()
    html = (report / "report.html").read_text()
    for heading in ("AIM", "THEORY", "DESIGN STEPS", "PROGRAM", "OUTPUT", "RESULT"):
        assert heading in markdown
    assert f"{summary['test_accuracy'] * 100:.2f}%" in markdown
    assert 'src="figures/' not in html and "data:image/png;base64," in html
    for text in (markdown, html):  # the report goes to students: no folder of the machine
        assert str(report.parent) not in text and str(SOLUTION_NOTEBOOK.parent) not in text
    # The notebook's own: its answers in their sections, its code without the checks.
    for answer in ("Problem statement", "Design notes", "Observations", "Result"):
        assert f"**{answer}** (the student's own words):" in markdown
    assert "**Your code** (cell" in markdown and "run_check" not in markdown


def test_report_pdf_is_the_report_on_a4_pages(report, summary):
    from pypdf import PdfReader

    pages = PdfReader(report / "report.pdf").pages
    assert len(pages) >= 8
    for number, page in enumerate(pages, start=1):
        text = page.extract_text()
        assert summary["student_name"] in text and f"Page {number} of {len(pages)}" in text
        assert round(float(page.mediabox.width)) == 595  # A4: 210 mm in points
    text = "\n".join(page.extract_text() for page in pages)
    assert f"{summary['test_accuracy'] * 100:.2f}%" in text
