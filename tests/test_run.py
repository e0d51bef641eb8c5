"""`run_lab` and `mnist-lab run` on small notebooks: the report, and nothing partial."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from mnist_lab.cli import main
from mnist_lab.errors import LabError
from mnist_lab.run import run_lab
from tests.fixtures import notebooks

REPORT_FILES = [
    "report.md",
    "report.html",
    "report.pdf",
    "classification_report.csv",
    "metrics.csv",
    "model.keras",
    "summary.json",
    "notebook.ipynb",
    "figures/accuracy_curve.png",
    "figures/loss_curve.png",
    "figures/confusion_matrix.png",
    "figures/model_diagram.png",
    "figures/test_predictions.png",
    "figures/scanned_digits.png",
]


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tiny")
    out = directory / "report"
    summary = run_lab(notebooks.tiny_lab(directory), out_dir=out)
    return out, summary


@pytest.mark.parametrize("name", REPORT_FILES)
def test_the_report_has_every_file(tiny_report, name):
    out, _ = tiny_report
    assert (out / name).is_file()
    if name.endswith(".png"):
        with Image.open(out / name) as image:
            image.verify()


def test_summary_holds_the_kits_own_evaluation(tiny_report):
    out, summary = tiny_report
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk == summary
    assert summary["student_name"] == "Ada Lovelace"
    assert summary["register_number"] == "212223240001"
    assert summary["epochs"] == 2
    # A 2-epoch model trained on 2,000 images: clearly learned, clearly not the full lab model.
    assert 0.5 < summary["test_accuracy"] < 0.99
    assert summary["parameter_count"] == 4 * 9 + 4 + 13 * 13 * 4 * 10 + 10
    assert summary["training_seconds"] > 0
    assert summary["scanned_digits"]["total"] >= 30
    assert "improved_model" not in summary


def test_report_names_the_student(tiny_report):
    out, _ = tiny_report
    text = (out / "report.md").read_text()
    assert "Ada Lovelace" in text and "212223240001" in text


@pytest.mark.parametrize("name", ["report.md", "report.html"])
def test_the_report_names_no_folder_of_the_machine(tiny_report, name):
    out, _ = tiny_report
    text = (out / name).read_text()
    assert str(out.parent) not in text and "/tmp/" not in text


def test_no_staging_folders_are_left_behind(tiny_report):
    out, _ = tiny_report
    assert sorted(p.name for p in out.parent.iterdir()) == ["report", "tiny_lab.ipynb"]


def test_a_failing_notebook_leaves_no_report(tmp_path):
    out = tmp_path / "report"
    with pytest.raises(LabError, match=r"cell 4 \(PROGRAM\): NameError") as error:
        run_lab(notebooks.raises_in_training(tmp_path), out_dir=out)
    assert "No report was written" in str(error.value)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raises_in_training.ipynb"]


def test_a_failing_notebook_keeps_the_previous_report(tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    (out / "summary.json").write_text('{"test_accuracy": 0.98}')
    with pytest.raises(LabError):
        run_lab(notebooks.raises_in_training(tmp_path), out_dir=out)
    assert json.loads((out / "summary.json").read_text()) == {"test_accuracy": 0.98}


def test_a_notebook_that_keeps_the_kernel_busy_says_the_export_never_ran(tmp_path):
    """`model` was trained: the message must not say it is not defined."""
    with pytest.raises(LabError) as error:
        run_lab(
            notebooks.ignores_its_interrupt(tmp_path), out_dir=tmp_path / "report", cell_timeout=5
        )
    message = str(error.value)
    assert (
        "could not export what they made: not run: the kernel was still running cell 5" in message
    )
    assert "not defined" not in message and "No report was written" in message
    assert not (tmp_path / "report").exists()


def test_a_notebook_without_a_model_is_explained(tmp_path):
    with pytest.raises(LabError, match="`model` not defined"):
        run_lab(notebooks.no_model(tmp_path), out_dir=tmp_path / "report")
    assert not (tmp_path / "report").exists()


def test_a_folder_that_is_not_a_report_is_never_replaced(tmp_path):
    out = tmp_path / "homework"
    out.mkdir()
    (out / "essay.txt").write_text("precious")
    with pytest.raises(LabError, match="not an earlier report"):
        run_lab(notebooks.no_model(tmp_path), out_dir=out)
    assert (out / "essay.txt").read_text() == "precious"


def test_cli_missing_notebook_exits_2_with_a_message(tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.ipynb"), "--out", str(tmp_path / "out")]) == 2
    assert "Notebook not found" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_missing_mnist_file_exits_2_naming_the_variable(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MNIST_PATH", "unchanged")  # restored after the test; --mnist sets it
    tiny = notebooks.tiny_lab(tmp_path)

    def no_kernel(*args, **kwargs):
        raise AssertionError("the notebook ran: the missing file should be named before")

    monkeypatch.setattr("mnist_lab.run.execute_notebook", no_kernel)
    argv = [
        "--mnist",
        str(tmp_path / "nowhere.npz"),
        "run",
        str(tiny),
        "--out",
        str(tmp_path / "out"),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "MNIST_PATH is set to" in err and "nowhere.npz" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("given", "meant"), [("data/mnist.npz", "{here}/data/mnist.npz"), ("~/m.npz", "{home}/m.npz")]
)
def test_cli_reads_a_relative_mnist_path_from_where_it_was_typed(
    tmp_path, monkeypatch, given, meant
):
    """The kernel runs in the notebook's folder; a relative $MNIST_PATH means the shell's."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MNIST_PATH", given)
    seen = []

    def stand_in(*args, **kwargs):
        seen.append(os.environ["MNIST_PATH"])
        raise LabError("stand-in: the notebook is not run")

    monkeypatch.setattr("mnist_lab.run.run_lab", stand_in)
    assert main(["run", "lab.ipynb", "--out", "out"]) == 2
    assert seen == [meant.format(here=tmp_path, home=tmp_path / "home")]
    assert os.environ["MNIST_PATH"] == given  # as it was, after the command


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"]])
def test_cli_help(capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    assert "usage: mnist-lab" in capsys.readouterr().out


def test_a_seeded_notebook_gives_the_same_figures_twice(tiny_report, run_as_typed):
    """The tiny lab run twice, by `run_lab` and by the command (whose notebook adds an
    unfinished bonus after the same cells): the same model, to the last digit."""
    first_out, first = tiny_report
    second_out, finished = run_as_typed
    assert finished.returncode == 0, finished.stderr[-3000:]
    second = json.loads((second_out / "summary.json").read_text())
    assert second["test_accuracy"] == first["test_accuracy"]
    assert second["test_loss"] == first["test_loss"]
    assert (second_out / "metrics.csv").read_text() == (first_out / "metrics.csv").read_text()


def test_a_clean_run_lists_no_cell_errors(tiny_report):
    out, summary = tiny_report
    assert summary["cell_errors"] == []
    assert "Not every cell ran" not in (out / "report.md").read_text()


@pytest.fixture(scope="module")
def run_as_typed(tmp_path_factory):
    """``mnist-lab run NOTEBOOK --out REPORT`` in a subprocess, on the tiny lab handed in
    before its bonus was done: the report folder and the finished process."""
    directory = tmp_path_factory.mktemp("typed")
    out = directory / "report"
    command = [sys.executable, "-m", "mnist_lab", "run", str(notebooks.bonus_not_done(directory))]
    finished = subprocess.run(
        [*command, "--out", str(out)], capture_output=True, text=True, timeout=600
    )
    return out, finished


def test_mnist_lab_run_end_to_end_as_a_user_types_it(run_as_typed):
    """The command in a subprocess, on a notebook whose bonus is not done yet: progress on
    stderr without TensorFlow's noise, the headline figures on stdout, the whole report on
    disk, with the cells that stopped marked in it and named on stderr."""
    out, finished = run_as_typed
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert "training epoch 2/2" in finished.stderr
    assert "[cell 1/" in finished.stderr
    assert "oneDNN" not in finished.stderr and "absl" not in finished.stderr
    assert "pruned" not in finished.stderr  # fpdf2's font subsetting, at INFO
    assert "Test accuracy" in finished.stdout
    assert all((out / name).is_file() for name in REPORT_FILES)
    # The bonus cell (7) and the check cell after it (8) stopped; the report says so.
    assert "Not every cell ran: 2 cells stopped with an error" in finished.stderr
    assert "cell 7 (Bonus); cell 8 (Bonus)" in finished.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert [(e["cell"], e["message"]) for e in summary["cell_errors"]] == [
        (7, "NotImplementedError"),
        (8, "AssertionError: Define `improved_model` to earn the bonus."),
    ]
    assert "improved_model" not in summary
    report = (out / "report.md").read_text()
    assert "**Not every cell ran.** In the run this report comes from, 2 cells" in report
    bonus = report.index("raise NotImplementedError()")
    assert report.index("**This cell stopped with an error:** `NotImplementedError`") > bonus
    assert "- cell 8 (Bonus): ``Define `improved_model` to earn the bonus.``" not in report
    assert "- cell 8 (Bonus): `` AssertionError: Define `improved_model`" in report
