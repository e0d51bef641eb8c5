"""`mnist-lab grade --report`: the lab report built from the run that was graded."""

from __future__ import annotations

import json
import logging
import os
import shutil

import numpy as np
import pytest

from mnist_lab.cli import main
from mnist_lab.grading.grade import grade_submission
from mnist_lab.paths import sample_images_dir
from mnist_lab.report.artefacts import report_artefacts
from mnist_lab.scans import read_manifest
from tests.fixtures import notebooks, submissions
from tests.test_run import REPORT_FILES


def _copy(name, folder):
    return shutil.copy(submissions.path(name), folder / f"{name}.ipynb")


@pytest.fixture(scope="module")
def graded_with_report(grader):
    """The tiny lab graded with ``report_dir``, by the session's grading of the fixtures."""
    return grader.results("tiny_lab"), grader.report_dir("tiny_lab")


@pytest.mark.parametrize("name", REPORT_FILES)
def test_the_report_has_every_file_of_mnist_lab_run(graded_with_report, name):
    _, report = graded_with_report
    assert (report / name).is_file()


def test_the_report_is_of_the_graded_run(graded_with_report):
    results, report = graded_with_report
    summary = json.loads((report / "summary.json").read_text())
    assert summary["student_name"] == "Ada Lovelace"
    assert summary["epochs"] == 5
    accuracy = results.check("test_accuracy")
    graded = float(accuracy.message.split("test images: ")[1].split(";")[0])
    assert summary["test_accuracy"] == pytest.approx(graded, abs=5e-4)
    # The scans are the grading scans, each with its output from the notebook.
    assert summary["scanned_digits"]["total"] == len(read_manifest(sample_images_dir()))
    assert results.score > 0
    assert not any(p.name.startswith(".report") for p in report.parent.iterdir())


def test_a_run_without_a_model_is_graded_and_gets_no_report(tiny_checker, tmp_path, caplog):
    report = tmp_path / "report"  # an earlier run's report there must not pass for this one's
    report.mkdir()
    (report / "summary.json").write_text('{"test_accuracy": 0.99}')
    with caplog.at_level(logging.WARNING, logger="mnist_lab.grading.report"):
        results = grade_submission(
            notebooks.no_model(tmp_path), checker=tiny_checker, report_dir=report
        )
    assert len(results.checks) == len(tiny_checker.rubric.checks)
    assert not results.check("test_accuracy").passed
    assert not report.exists()
    assert "No lab report was written" in caplog.text and "`model`" in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["no_model.ipynb"]


def test_a_report_folder_holding_other_files_stops_the_grader_first(tmp_path, capsys):
    report = tmp_path / "homework"
    report.mkdir()
    (report / "essay.txt").write_text("precious")
    notebook = _copy("tiny_lab", tmp_path)
    argv = ["grade", str(notebook), "--out", str(tmp_path / "out"), "--report", str(report)]
    assert main(argv) == 2
    assert "not an earlier report" in capsys.readouterr().err
    assert (report / "essay.txt").read_text() == "precious"
    assert not (tmp_path / "out").exists()


def test_only_plain_files_of_the_export_are_read_never_links(tmp_path):
    """A kernel may leave links in its export folder; the grader (root) must not follow
    them into the report (a link to a private file would copy it there)."""
    export, private = tmp_path / "export", tmp_path / "private"
    (export / "scans").mkdir(parents=True)
    private.mkdir()
    secret = tmp_path / "secret.keras"
    secret.write_bytes(b"not for students")
    os.symlink(secret, export / "model.keras")
    os.symlink(tmp_path / "history.json", export / "history.json")
    (tmp_path / "history.json").write_text('{"loss": [1.0]}')
    (export / "improved_history.json").write_text('{"loss": [0.5, 0.25]}')
    np.save(export / "scans" / "0.npy", np.zeros((1, 28, 28, 1)))
    np.save(tmp_path / "view.npy", np.ones((28, 28)))
    os.symlink(tmp_path / "view.npy", export / "scans" / "1.npy")
    samples = read_manifest(sample_images_dir())

    artefacts = report_artefacts(export, samples, private)

    assert artefacts.models == {}
    assert artefacts.histories == {"improved_history": {"loss": [0.5, 0.25]}}
    assert list(artefacts.scan_views) == [samples[0].path.name]
    assert artefacts.scan_views[samples[0].path.name].shape == (28, 28)
    assert not (private / "model.keras").exists()


def test_fifos_archives_and_linked_folders_in_the_export_are_skipped(tmp_path):
    """Opening a FIFO nobody writes to would hang the grader; an .npz saved as .npy loads
    as an archive; a linked scans/ folder could point anywhere."""
    export, private = tmp_path / "export", tmp_path / "private"
    export.mkdir()
    private.mkdir()
    os.mkfifo(export / "model.keras")
    os.mkfifo(export / "history.json")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    np.save(elsewhere / "0.npy", np.zeros((28, 28)))
    os.symlink(elsewhere, export / "scans")
    samples = read_manifest(sample_images_dir())

    artefacts = report_artefacts(export, samples, private)

    assert (artefacts.models, artefacts.histories, artefacts.scan_views) == ({}, {}, {})
    (export / "scans").unlink()
    (export / "scans").mkdir()
    np.savez(export / "scans" / "0.npy", views=np.zeros((28, 28)))  # np.savez keeps the name
    assert report_artefacts(export, samples, private).scan_views == {}
