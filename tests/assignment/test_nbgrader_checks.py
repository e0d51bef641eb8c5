"""The test cells' helper: the catalogue's checks on a notebook's live objects, quietly."""

from __future__ import annotations

import os
import sys
import warnings

import keras
import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from mnist_lab.data import load_mnist
from mnist_lab.grading.catalogue import CHECK_NAMES
from mnist_lab.grading.kernel.nbgrader_checks import _quiet, check_result, run_check
from mnist_lab.grading.rubric import load_rubric


@pytest.fixture(scope="module")
def mnist(mnist_path):
    return load_mnist(mnist_path)


@pytest.fixture
def data(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def test_a_passed_check_prints_its_points(data, capsys):
    data.update(x_train_scaled=data["x_train"] / 255.0, x_test_scaled=data["x_test"] / 255.0)
    outcome = run_check("scaled_pixels", data)
    assert outcome.passed
    assert capsys.readouterr().out.startswith("Passed (10 of 10 points). x_train_scaled and ")


def test_a_failed_check_gives_its_points_and_the_checks_own_message(data, capsys):
    data.update(x_train_scaled=data["x_train"] / 255.0, x_test_scaled=data["x_test"] * 1.0)
    outcome = run_check("scaled_pixels", data)
    assert not outcome.passed and capsys.readouterr().out == ""
    first, message = outcome.feedback.split("\n", 1)
    assert first.startswith("Not passed (0 of 10 points): The pixels are scaled to [0, 1]")
    assert message == check_result("scaled_pixels", data).message
    assert "`x_test_scaled` has values from 0 to 255; expected values in [0, 1]" in message


def test_a_missing_name_is_explained(data):
    outcome = run_check("one_hot_labels", data)
    assert "`y_train_onehot` and `y_test_onehot` are not defined." in outcome.feedback
    assert "NotImplementedError" in outcome.feedback


def test_an_object_of_the_wrong_kind_is_named(data):
    data.update(x_train_scaled=[[0.0]], x_test_scaled=data["x_test"] / 255.0)
    outcome = run_check("scaled_pixels", data)
    assert "`x_train_scaled` is not what the lab asks for: x_train_scaled is a" in outcome.feedback


def test_an_unknown_check_is_refused():
    with pytest.raises(ValueError, match="No check is called 'accuracy'"):
        run_check("accuracy", {})


@pytest.mark.parametrize("name", CHECK_NAMES)
def test_the_points_are_the_rubrics(name):
    result = check_result(name, {})
    spec = load_rubric().checks[name]
    assert (result.passed, result.max_points, result.extra_credit) == (
        False,
        spec.points,
        spec.extra_credit,
    )


def test_outside_jupyter_the_notebooks_outputs_are_not_checked(capsys):
    assert run_check("lab_outputs", {}).passed
    assert capsys.readouterr().out.startswith("Not checked: ")


def test_a_model_check_writes_nothing_to_stderr(data, capfd):
    from keras import layers

    keras.utils.set_random_seed(0)
    data["model"] = keras.Sequential(
        [keras.Input(shape=(28, 28, 1)), layers.Flatten(), layers.Dense(10, activation="softmax")]
    )
    capfd.readouterr()
    assert not run_check("test_accuracy", data).passed  # untrained: evaluated all the same
    assert capfd.readouterr().err == ""


def test_stderr_and_warnings_are_silenced_while_a_check_runs(capfd):
    with _quiet():
        os.write(2, b"I0000 00:00:1.0 1 port.cc:153] oneDNN custom operations are on.\n")
        print("a Python line on stderr", file=sys.stderr)
        warnings.warn("a warning", UserWarning, stacklevel=1)
    assert capfd.readouterr().err == ""


CELLS = [
    "from mnist_lab.grading.kernel.nbgrader_checks import run_check",
    "raise NotImplementedError()",
    'outcome = run_check("one_hot_labels", globals())\nprint(outcome.feedback)',
    "import matplotlib.pyplot as plt\nimport pandas as pd\n"
    "history = {'loss': [1.0, 0.5], 'accuracy': [0.5, 0.9],\n"
    "           'val_loss': [1.1, 0.6], 'val_accuracy': [0.4, 0.8]}\n"
    "metrics = pd.DataFrame(history)\nmetrics",
    "metrics[['loss', 'val_loss']].plot()\nplt.show()\n"
    "metrics[['accuracy', 'val_accuracy']].plot()\nplt.show()",
    'outcome = run_check("lab_outputs", globals())\nprint(outcome.feedback)',
    "from sklearn.metrics import classification_report, confusion_matrix\n"
    "print(confusion_matrix([0, 1, 1], [0, 1, 0]))\n"
    "print(classification_report([0, 1, 1], [0, 1, 0]))",
    'outcome = run_check("lab_outputs", globals())\nassert outcome.passed, outcome.feedback',
]


@pytest.fixture(scope="module")
def kernel_run(mnist_path):
    """The cells above, run in a Jupyter kernel as nbgrader runs them."""
    notebook = new_notebook(cells=[new_code_cell(source) for source in CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    NotebookClient(notebook, timeout=300, kernel_name="python3", allow_errors=True).execute()
    return notebook


def stdout(cell: nbformat.NotebookNode) -> str:
    return "".join(o.text for o in cell.outputs if o.output_type == "stream")


def test_in_jupyter_a_missing_name_points_at_the_unfinished_cell(kernel_run):
    assert "are not defined yet: a cell above still raises NotImplementedError" in stdout(
        kernel_run.cells[2]
    )


def test_in_jupyter_the_notebooks_outputs_are_read(kernel_run):
    feedback = stdout(kernel_run.cells[5])
    assert feedback.startswith("Not passed (0 of 10 points)")
    assert "No confusion matrix was shown" in feedback
    assert "plot(s) of the training history" not in feedback  # both plots were seen
    last = kernel_run.cells[7]
    assert [o.output_type for o in last.outputs] == ["stream"], last.outputs
    assert stdout(last).startswith("Passed (10 of 10 points)")
