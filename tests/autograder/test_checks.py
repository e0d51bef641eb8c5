"""Each of the kit's checks (autograder/test_*.py) on its own, on artefacts made in memory.

What passes, what fails, and why: each case names the mistake and a phrase the student's
message must hold. No notebook runs here; the end-to-end tests (test_submissions.py) grade
real notebooks. Arrays are read-only, as in the checker, so a check that changed its input
would raise. Each check is called as the in-notebook checks call it (`scoring.call_check`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from mnist_lab.data import load_mnist
from mnist_lab.grading.catalogue import CHECK_NAMES, catalogue
from mnist_lab.grading.checker.artefacts import (
    ExportedArray,
    Missing,
    Reference,
    SavedModel,
    ScanOutput,
)
from mnist_lab.grading.checker.suite import import_check_file
from mnist_lab.grading.rubric import load_rubric
from mnist_lab.grading.scoring import Verdict, call_check
from mnist_lab.scans import Sample

ROWS = 200  # rows sampled per array, as the export samples them (fixed seed here)
CHECKS = {check.name: check for check in catalogue()}


def run(name: str, **values) -> Verdict:
    """The kit's check ``name`` called with ``values`` for its fixtures."""
    check = CHECKS[name]
    module = import_check_file(check.path, f"tests_checks.{check.path.stem}")
    return call_check(check, getattr(module, check.function), values)


def read_only(array: np.ndarray) -> np.ndarray:
    """As the checker holds every artefact: a check that wrote to one would raise."""
    array = np.array(array)
    array.flags.writeable = False
    return array


@pytest.fixture(scope="module")
def mnist(mnist_path) -> Reference:
    (x_train, y_train), (x_test, y_test) = load_mnist(mnist_path)
    arrays = (read_only(a) for a in (x_train, y_train, x_test, y_test))
    return Reference(*arrays, samples=(), sample_bytes=())


@pytest.fixture(scope="module")
def thresholds():
    return load_rubric().thresholds


def exported(name: str, array: np.ndarray) -> ExportedArray:
    """What the export would send for ``array``: its shape and dtype, and sampled rows."""
    rows = np.sort(np.random.default_rng(0).choice(60_000, ROWS, replace=False))
    if "test" in name:
        rows = np.sort(np.random.default_rng(1).choice(10_000, ROWS, replace=False))
    rows = rows[rows < len(array)]
    return ExportedArray(name, array.shape, array.dtype, read_only(array[rows]), read_only(rows))


# Scaling ------------------------------------------------------------------------------------

SCALINGS = {
    "divided by 255.0": (lambda x: x / 255.0, None),
    "float32": (lambda x: x.astype("float32") / 255, None),
    "float16": (lambda x: (x / 255.0).astype("float16"), None),
    "not scaled": (lambda x: x.astype("float64"), "expected values in [0, 1]"),
    "integers": (lambda x: x, "holds uint8 values"),
    "divided by 256": (lambda x: x / 256.0, "not the images divided by 255"),
    "standardised": (lambda x: (x - x.mean()) / x.std(), "expected values in [0, 1]"),
    "a slice": (lambda x: x[:1000] / 255.0, "expected (60000, 28, 28)"),
}


@pytest.mark.parametrize("case", list(SCALINGS))
def test_scaled_pixels(mnist, case):
    scale, problem = SCALINGS[case]
    verdict = run(
        "scaled_pixels",
        x_train_scaled=exported("x_train_scaled", scale(mnist.x_train)),
        x_test_scaled=exported("x_test_scaled", mnist.x_test / 255.0),
        mnist=mnist,
    )
    assert verdict.passed == (problem is None), verdict.message
    if problem:
        assert problem in verdict.message and "x_train / 255.0" in verdict.message


# One-hot labels -----------------------------------------------------------------------------


def one_hot(labels: np.ndarray) -> np.ndarray:
    return np.eye(10, dtype="float32")[labels]


ENCODINGS = {
    "to_categorical": (lambda y: one_hot(y), None),
    "not encoded": (lambda y: y, "expected (60000, 10)"),
    "shifted by one digit": (lambda y: one_hot((y + 1) % 10), "does not match `y_train`"),
    "smoothed": (lambda y: one_hot(y) * 0.9 + 0.01, "is not one-hot"),
    "eleven classes": (lambda y: np.eye(11)[y], "expected (60000, 10)"),
}


@pytest.mark.parametrize("case", list(ENCODINGS))
def test_one_hot_labels(mnist, case):
    encode, problem = ENCODINGS[case]
    verdict = run(
        "one_hot_labels",
        y_train_onehot=exported("y_train_onehot", encode(mnist.y_train)),
        y_test_onehot=exported("y_test_onehot", one_hot(mnist.y_test)),
        mnist=mnist,
    )
    assert verdict.passed == (problem is None), verdict.message
    if problem:
        assert problem in verdict.message


# Data shapes --------------------------------------------------------------------------------

RESHAPES = {
    "with a channel axis": (lambda x: x.reshape(-1, 28, 28, 1), None),
    "of unscaled images": (lambda x: (x * 255).reshape(-1, 28, 28, 1), None),
    "without a channel axis": (lambda x: x, "expected (60000, 28, 28, 1)"),
    "flattened": (lambda x: x.reshape(-1, 784), "expected (60000, 28, 28, 1)"),
    "transposed": (lambda x: x.T.reshape(-1, 28, 28, 1), "does not hold the same images"),
}


@pytest.mark.parametrize("case", list(RESHAPES))
def test_data_shapes(mnist, case):
    reshape, problem = RESHAPES[case]
    x_train_scaled, x_test_scaled = mnist.x_train / 255.0, mnist.x_test / 255.0
    verdict = run(
        "data_shapes",
        **{name: exported(name, getattr(mnist, name)) for name in ("x_train", "y_train")},
        **{name: exported(name, getattr(mnist, name)) for name in ("x_test", "y_test")},
        x_train_reshaped=exported("x_train_reshaped", reshape(x_train_scaled)),
        x_test_reshaped=exported("x_test_reshaped", x_test_scaled.reshape(-1, 28, 28, 1)),
        mnist=mnist,
        exported={
            "x_train_scaled": exported("x_train_scaled", x_train_scaled),
            "x_test_scaled": Missing("x_test_scaled", "is not defined"),
        },
    )
    assert verdict.passed == (problem is None), verdict.message
    if problem:
        assert problem in verdict.message


def test_data_changed_in_place_fails_data_shapes(mnist):
    loaded = {n: exported(n, getattr(mnist, n)) for n in ("y_train", "x_test", "y_test")}
    verdict = run(
        "data_shapes",
        x_train=exported("x_train", mnist.x_train / 255.0),
        **loaded,
        x_train_reshaped=exported("x_train_reshaped", mnist.x_train.reshape(-1, 28, 28, 1)),
        x_test_reshaped=exported("x_test_reshaped", mnist.x_test.reshape(-1, 28, 28, 1)),
        mnist=mnist,
        exported={},
    )
    assert not verdict.passed
    assert "`x_train` is not the data as loaded" in verdict.message


# Architecture -------------------------------------------------------------------------------


def sequential(*layers, input_shape=(28, 28, 1)):
    import keras

    return keras.Sequential([keras.Input(shape=input_shape), *layers])


def architectures():
    from keras import layers

    conv = lambda: layers.Conv2D(32, (3, 3), activation="relu")  # noqa: E731
    pool = lambda: layers.MaxPooling2D((2, 2))  # noqa: E731
    out = lambda: layers.Dense(10, activation="softmax")  # noqa: E731
    return {
        "the lab's model A": (lambda: sequential(conv(), pool(), layers.Flatten(), out()), None),
        "global average pooling": (
            lambda: sequential(
                conv(), layers.Conv2D(64, (3, 3)), layers.GlobalAveragePooling2D(), out()
            ),
            None,
        ),
        "a Softmax layer": (
            lambda: sequential(
                conv(), pool(), layers.Flatten(), layers.Dense(10), layers.Softmax()
            ),
            None,
        ),
        "an MLP": (
            lambda: sequential(layers.Flatten(), layers.Dense(300, activation="relu"), out()),
            "no convolution layer",
        ),
        "no pooling": (lambda: sequential(conv(), layers.Flatten(), out()), "No pooling layer"),
        "no softmax": (
            lambda: sequential(conv(), pool(), layers.Flatten(), layers.Dense(10)),
            "expected 'softmax'",
        ),
        "one output unit": (
            lambda: sequential(conv(), pool(), layers.Flatten(), layers.Dense(1)),
            "expected (None, 10)",
        ),
        "no channel axis": (
            lambda: sequential(
                layers.Reshape((28, 28, 1)),
                conv(),
                pool(),
                layers.Flatten(),
                out(),
                input_shape=(28, 28),
            ),
            "expected (28, 28, 1)",
        ),
        "too large": (
            lambda: sequential(conv(), pool(), layers.Flatten(), layers.Dense(1024), out()),
            "parameters; expected between",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "the lab's model A",
        "global average pooling",
        "a Softmax layer",
        "an MLP",
        "no pooling",
        "no softmax",
        "one output unit",
        "no channel axis",
        "too large",
    ],
)
def test_cnn_architecture(thresholds, case):
    build, problem = architectures()[case]
    verdict = run("cnn_architecture", model=SavedModel("model", build(), {}), thresholds=thresholds)
    assert verdict.passed == (problem is None), verdict.message
    if problem:
        assert problem in verdict.message


# Compile settings ---------------------------------------------------------------------------

ADAM = {"module": "keras.optimizers", "class_name": "Adam", "config": {"name": "adam"}}
COMPILES = {
    "the lab's strings": ({"optimizer": ADAM, "loss": "categorical_crossentropy"}, None),
    "a loss object": (
        {"optimizer": ADAM, "loss": {"class_name": "CategoricalCrossentropy", "config": {}}},
        None,
    ),
    "a loss function": (
        {
            "optimizer": ADAM,
            "loss": {"class_name": "function", "config": "categorical_crossentropy"},
        },
        None,
    ),
    "never compiled": ({}, "never compiled"),
    "sgd": ({"optimizer": {"class_name": "SGD"}, "loss": "categorical_crossentropy"}, "uses Adam"),
    "sparse labels": (
        {"optimizer": ADAM, "loss": "sparse_categorical_crossentropy"},
        "sparse labels need no one-hot",
    ),
    "mean squared error": ({"optimizer": ADAM, "loss": "mse"}, "categorical cross-entropy"),
}


@pytest.mark.parametrize("case", list(COMPILES))
def test_compile_settings(case):
    config, problem = COMPILES[case]
    verdict = run("compile_settings", model=SavedModel("model", None, config))
    assert verdict.passed == (problem is None), verdict.message
    if problem:
        assert problem in verdict.message


# Training history ---------------------------------------------------------------------------


def history(epochs=5, **overrides):
    keys = ("loss", "accuracy", "val_loss", "val_accuracy")
    return {**{key: [0.5] * epochs for key in keys}, **overrides}


HISTORIES = {
    "five epochs validated": (history(), None),
    "ten epochs": (history(10), None),
    "three epochs": (history(3), "holds 3 epoch(s)"),
    "no validation": (
        {"loss": [0.5] * 5, "accuracy": [0.9] * 5},
        "pass validation_data=(x_test_reshaped, y_test_onehot)",
    ),
    "no accuracy metric": ({"loss": [0.5] * 5, "val_loss": [0.5] * 5}, "metrics=['accuracy']"),
    "diverged": (history(loss=[0.5, float("nan")] + [0.5] * 3), "diverged"),
    "empty": ({}, "holds no training loss"),
}


@pytest.mark.parametrize("case", list(HISTORIES))
def test_training_history(thresholds, case):
    data, problem = HISTORIES[case]
    verdict = run("training_history", history=data, thresholds=thresholds)
    assert verdict.passed == (problem is None), verdict.message
    if problem:
        assert problem in verdict.message


# Scan preprocessing -------------------------------------------------------------------------

SAMPLE = Sample(path=__import__("pathlib").Path("7_plain_1.png"), label=7)
SCAN_OUTPUTS = {
    "one input in [0, 1]": (np.zeros((1, 28, 28, 1)), None, None),
    "no batch axis": (np.zeros((28, 28, 1)), None, "expected (1, 28, 28, 1)"),
    "unscaled": (np.full((1, 28, 28, 1), 255.0), None, "expected values in [0, 1]"),
    "an error": (None, "ValueError: bad image", "failed for 2 of 2 supplied scans"),
}


@pytest.mark.parametrize("case", list(SCAN_OUTPUTS))
def test_scan_preprocessing(case):
    array, error, problem = SCAN_OUTPUTS[case]
    outputs = (ScanOutput(SAMPLE, array, error),) * 2
    verdict = run("scan_preprocessing", scan_outputs=outputs)
    assert verdict.passed == (problem is None), verdict.message
    if problem:
        assert problem in verdict.message


# Lab outputs --------------------------------------------------------------------------------


def lab_notebook(*cells):
    notebook = new_notebook()
    for source, outputs in cells:
        notebook.cells.append(new_code_cell(source, outputs=outputs))
    return notebook


PLOT = new_output("display_data", data={"image/png": "iVBOR", "text/plain": "<Figure>"})
TEXT = new_output("stream", name="stdout", text="...")
ERROR = new_output("error", ename="NameError", evalue="name 'y_pred' is not defined", traceback=[])
EVALUATION = ("print(confusion_matrix(y_test, y_pred))", [TEXT])
REPORT = ("print(classification_report(y_test, y_pred))", [TEXT])
PLOTS = ("metrics[['loss', 'val_loss']].plot()\nmetrics[['accuracy']].plot()", [PLOT, PLOT])


def metrics_table(data):
    from mnist_lab.grading.checker.artefacts import Table

    return Table(rows=len(data["loss"]), values=data)


LAB_OUTPUTS = {
    "everything shown": ((PLOTS, EVALUATION, REPORT), history(), None),
    "no plots": ((EVALUATION, REPORT), history(), "Found 0 plot(s)"),
    "confusion matrix cell failed": (
        (PLOTS, (EVALUATION[0], [ERROR]), REPORT),
        history(),
        "No confusion matrix",
    ),
    "no report": ((PLOTS, EVALUATION), history(), "No classification report"),
    "metrics not the history": ((PLOTS, EVALUATION, REPORT), {"loss": [1.0] * 5}, "lacks"),
}


@pytest.mark.parametrize("case", list(LAB_OUTPUTS))
def test_lab_outputs(case):
    cells, table, problem = LAB_OUTPUTS[case]
    verdict = run(
        "lab_outputs",
        notebook=lab_notebook(*cells),
        metrics=metrics_table(table),
        exported={"history": history()},
    )
    assert verdict.passed == (problem is None), verdict.message
    if problem:
        assert problem in verdict.message


# How a check ends ---------------------------------------------------------------------------


def test_a_missing_artefact_fails_the_check_with_its_reason(thresholds):
    missing = Missing("history", "is not defined: cell 5 raised NameError")
    verdict = run("training_history", history=missing, thresholds=thresholds)
    assert not verdict.passed
    assert verdict.message == "`history` is not defined: cell 5 raised NameError."


def test_a_check_that_raises_fails_alone_and_says_the_check_failed():
    def test_explodes(model):
        """Explodes."""
        raise RuntimeError("boom")

    check = replace(CHECKS["compile_settings"], name="explodes", fixtures=("model",))
    verdict = call_check(check, test_explodes, {"model": object()})
    assert not verdict.passed and "RuntimeError: boom" in verdict.message
    assert "The check itself failed" in verdict.message


def test_each_check_has_one_name_and_a_one_line_docstring():
    assert len(set(CHECK_NAMES)) == len(CHECK_NAMES) == 11
    for check in catalogue():
        module = import_check_file(check.path, f"tests_checks.{check.path.stem}")
        doc = getattr(module, check.function).__doc__
        assert doc and len(doc.strip().splitlines()) == 1, check.name


# Hints that fit what was found ----------------------------------------------------------------

SCAN_VALUES = {
    "overshooting filter": (-0.097, 1.0, "np.clip(view, 0.0, 1.0)", "Divide"),
    "slightly above 1": (0.0, 1.04, "np.clip(view, 0.0, 1.0)", "Divide"),
    "unscaled": (0.0, 255.0, "Divide them by 255.0", "clip"),
}


@pytest.mark.parametrize("case", list(SCAN_VALUES))
def test_scan_value_hints_fit_what_was_found(case):
    low, high, hint, wrong_hint = SCAN_VALUES[case]
    array = np.zeros((1, 28, 28, 1))
    array.flat[0], array.flat[1] = low, high
    verdict = run("scan_preprocessing", scan_outputs=(ScanOutput(SAMPLE, array),))
    assert not verdict.passed and hint in verdict.message, verdict.message
    assert wrong_hint not in verdict.message


def test_standardised_pixels_are_not_told_to_divide_again(mnist):
    standardised = (mnist.x_train - mnist.x_train.mean()) / mnist.x_train.std()
    verdict = run(
        "scaled_pixels",
        x_train_scaled=exported("x_train_scaled", standardised),
        x_test_scaled=exported("x_test_scaled", mnist.x_test / 255.0),
        mnist=mnist,
    )
    assert "subtracting a mean or standardising" in verdict.message
    assert "not scaled yet" not in verdict.message


# Partial credit -------------------------------------------------------------------------------


class RightOnAFraction:
    """A stand-in model whose predictions are right on ``right`` of the test images."""

    input_shape = (None, 28, 28, 1)
    output_shape = (None, 10)

    def __init__(self, labels: np.ndarray, right: float):
        self.labels, self.right = labels, right

    def predict(self, inputs, verbose=0, batch_size=None):
        labels = np.array(self.labels[: len(inputs)])
        wrong = round(len(inputs) * (1 - self.right))
        labels[:wrong] = (labels[:wrong] + 1) % 10
        return np.eye(10)[labels]


@pytest.mark.parametrize(
    ("right", "fraction"), [(0.985, 1.0), (0.975, 0.5), (0.97, 0.5), (0.965, 0.0)]
)
def test_test_accuracy_gives_the_rubric_s_part_of_the_points(mnist, thresholds, right, fraction):
    model = SavedModel("model", RightOnAFraction(mnist.y_test, right), {})
    verdict = run("test_accuracy", model=model, mnist=mnist, thresholds=thresholds)
    assert verdict.fraction == fraction, verdict.message
    assert f"{right:.4f}" in verdict.message
    if fraction == 0.5:
        assert "at least 0.97 earns half of the points, 0.98 all of them" in verdict.message
