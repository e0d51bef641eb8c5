"""The check catalogue: one small function per requirement of the lab, in feedback order.

Each check takes the artefacts it needs by name (see `artefacts`: the student's exported
arrays, models, histories and scan outputs, the grader's verified ``mnist`` reference, the
rubric's ``thresholds``, the executed ``notebook``), never changes them, and returns a
`Verdict`: passed or not, and a message for a student at midnight (what was found, what was
expected, how to fix it). Points are not here: the rubric sets them and `runner` applies
them. A parameter with a default is optional: it receives a `Missing` when the notebook
lacks it; for the others, the runner fails the check with the reason before calling it.

Each mistake fails one check: the grader evaluates models on its own correctly prepared
test data, so a wrong reshape or an unscaled array costs only the check about it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from nbformat import NotebookNode

from mnist_lab.grading import models
from mnist_lab.grading.artefacts import (
    ExportedArray,
    Missing,
    Reference,
    SavedModel,
    ScanOutput,
    Table,
)
from mnist_lab.grading.rubric import Thresholds
from mnist_lab.grading.sources import calls_function, mentions_name, student_code_cells

SPLIT_SIZE = {"train": 60_000, "test": 10_000}
IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10
# Largest difference from images / 255 still counted as equal (float16 storage is fine).
PIXEL_TOLERANCE = 1e-3
# Largest difference between the metrics table and the history still counted as equal.
METRICS_TOLERANCE = 1e-6
MIN_HISTORY_PLOTS = 2
CONFUSION_MATRIX_CALLS = ("confusion_matrix", "ConfusionMatrixDisplay", "from_predictions")


@dataclass(frozen=True)
class Verdict:
    """A check's outcome, before the rubric gives it points."""

    passed: bool
    message: str


def _verdict(problems: Sequence[str], success: str) -> Verdict:
    if problems:
        return Verdict(False, "\n".join(problems))
    return Verdict(True, success)


def _split(array: ExportedArray) -> str:
    return "train" if "train" in array.name else "test"


def _loaded(reference: Reference, name: str) -> np.ndarray:
    return getattr(reference, name)


def _shape(shape: Sequence) -> str:
    return str(tuple(shape))


# Data ---------------------------------------------------------------------------------------


def check_data_shapes(
    x_train: ExportedArray,
    y_train: ExportedArray,
    x_test: ExportedArray,
    y_test: ExportedArray,
    x_train_reshaped: ExportedArray,
    x_test_reshaped: ExportedArray,
    mnist: Reference,
    x_train_scaled: ExportedArray | Missing = None,
    x_test_scaled: ExportedArray | Missing = None,
) -> Verdict:
    """The data is kept as loaded, and the images are reshaped to (N, 28, 28, 1)."""
    problems = []
    for array in (x_train, y_train, x_test, y_test):
        expected = _loaded(mnist, array.name)
        if array.shape != expected.shape:
            problems.append(
                f"`{array.name}` has shape {_shape(array.shape)}; expected "
                f"{_shape(expected.shape)}, as load_mnist() returns it. Keep the loaded arrays "
                "unchanged and make scaled or smaller copies under new names."
            )
        elif not np.array_equal(array.rows, expected[array.row_indices]):
            problems.append(
                f"`{array.name}` is not the data as loaded: its values were changed. Keep "
                f"`{array.name}` as load_mnist() returns it and store changed copies under new "
                "names (e.g. x_train_scaled)."
            )
    scaled = {"train": x_train_scaled, "test": x_test_scaled}
    for array in (x_train_reshaped, x_test_reshaped):
        problems += _reshape_problems(array, scaled[_split(array)], mnist)
    return _verdict(
        problems,
        "x_train (60000, 28, 28), x_test (10000, 28, 28) and the labels are as loaded; "
        "x_train_reshaped is (60000, 28, 28, 1) and x_test_reshaped (10000, 28, 28, 1).",
    )


def _reshape_problems(array: ExportedArray, scaled, mnist: Reference) -> list[str]:
    n = SPLIT_SIZE[_split(array)]
    expected = (n, *IMAGE_SHAPE, 1)
    source = array.name.replace("_reshaped", "_scaled")
    if array.shape != expected:
        return [
            f"`{array.name}` has shape {_shape(array.shape)}; expected {_shape(expected)}: "
            f"{n} images of 28 x 28 pixels with one channel, the input Conv2D expects. Use "
            f"`{array.name} = {source}.reshape(-1, 28, 28, 1)`."
        ]
    flat = array.rows.reshape(len(array.rows), -1).astype(np.float64)
    candidates = []
    if isinstance(scaled, ExportedArray) and np.array_equal(scaled.row_indices, array.row_indices):
        candidates.append(scaled.rows.reshape(len(scaled.rows), -1))
    images = _loaded(mnist, f"x_{_split(array)}")[array.row_indices].reshape(len(flat), -1)
    candidates += [images / 255.0, images]
    for candidate in candidates:
        if candidate.shape == flat.shape and np.allclose(flat, candidate, atol=PIXEL_TOLERANCE):
            return []
    return [
        f"`{array.name}` has the right shape but does not hold the same images, in the same "
        f"order, as `{source}`. Reshape it with `{source}.reshape(-1, 28, 28, 1)`; do not "
        "transpose or shuffle it."
    ]


def check_scaled_pixels(
    x_train_scaled: ExportedArray, x_test_scaled: ExportedArray, mnist: Reference
) -> Verdict:
    """The pixels are scaled to [0, 1]: x_train_scaled == x_train / 255.0 (floats)."""
    problems = []
    for array in (x_train_scaled, x_test_scaled):
        problems += _scaling_problems(array, mnist)
    return _verdict(
        problems,
        "x_train_scaled and x_test_scaled are floats in [0, 1], equal to the images / 255.",
    )


def _scaling_problems(array: ExportedArray, mnist: Reference) -> list[str]:
    n = SPLIT_SIZE[_split(array)]
    original = array.name.replace("_scaled", "")
    how = f"Use `{array.name} = {original} / 255.0`."
    if array.length != n or int(np.prod(array.shape[1:])) != 28 * 28:
        return [
            f"`{array.name}` has shape {_shape(array.shape)}; expected ({n}, 28, 28): every "
            f"image of `{original}`, scaled. {how}"
        ]
    if array.dtype.kind != "f":
        return [
            f"`{array.name}` holds {array.dtype} values; expected floating-point numbers "
            f"(integers cannot hold values between 0 and 1). {how}"
        ]
    low, high = float(np.min(array.rows)), float(np.max(array.rows))
    if not (np.isfinite(low) and np.isfinite(high)) or low < 0.0 or high > 1.0:
        return [
            f"`{array.name}` has values from {low:g} to {high:g}; expected values in [0, 1]. "
            f"Divide the pixel values (0-255) by 255.0. {how}"
        ]
    images = _loaded(mnist, original)[array.row_indices].reshape(len(array.rows), -1) / 255.0
    difference = float(np.max(np.abs(array.rows.reshape(len(images), -1) - images)))
    if difference > PIXEL_TOLERANCE:
        return [
            f"`{array.name}` is in [0, 1] but is not the images divided by 255 (it differs by "
            f"up to {difference:.3g}; standardising or dividing by another number changes the "
            f"data the lab expects). {how}"
        ]
    return []


def check_one_hot_labels(
    y_train_onehot: ExportedArray, y_test_onehot: ExportedArray, mnist: Reference
) -> Verdict:
    """The labels are one-hot encoded: shape (N, 10), one 1 per row, at the label's digit."""
    problems = []
    for array in (y_train_onehot, y_test_onehot):
        problems += _one_hot_problems(array, mnist)
    return _verdict(
        problems, "y_train_onehot (60000, 10) and y_test_onehot (10000, 10) encode the labels."
    )


def _one_hot_problems(array: ExportedArray, mnist: Reference) -> list[str]:
    labels_name = array.name.replace("_onehot", "")
    n = SPLIT_SIZE[_split(array)]
    how = f"Use `{array.name} = keras.utils.to_categorical({labels_name}, 10)`."
    if array.shape != (n, NUM_CLASSES):
        return [
            f"`{array.name}` has shape {_shape(array.shape)}; expected ({n}, 10): one row per "
            f"image and one column per digit. {how}"
        ]
    rows = array.rows.astype(np.float64)
    ones = np.isclose(rows, 1.0)
    if not np.all(ones | np.isclose(rows, 0.0)) or not np.all(ones.sum(axis=1) == 1):
        return [
            f"`{array.name}` is not one-hot: each row must hold a single 1 and nine 0s (the "
            f"first checked row is {np.round(rows[0], 3).tolist()}). {how}"
        ]
    labels = _loaded(mnist, labels_name)[array.row_indices]
    wrong = np.flatnonzero(rows.argmax(axis=1) != labels)
    if len(wrong):
        row = int(array.row_indices[wrong[0]])
        return [
            f"`{array.name}` does not match `{labels_name}`: row {row} encodes the digit "
            f"{int(rows[wrong[0]].argmax())}, but its label is {int(labels[wrong[0]])}. "
            f"Encode each set's own labels, in order. {how}"
        ]
    return []


# Model --------------------------------------------------------------------------------------


def check_cnn_architecture(model: SavedModel, thresholds: Thresholds) -> Verdict:
    """The lab model is a CNN: Conv2D, pooling, Flatten, a 10-unit softmax output."""
    network = model.model
    layers = models.layers_in_order(network)
    kinds = [models.kind(layer) for layer in layers]
    problems = []
    shape = models.input_shape(network)
    if shape != (*IMAGE_SHAPE, 1):
        problems.append(
            f"The model's input shape is {shape}; expected (28, 28, 1). Start the model with "
            "keras.Input(shape=(28, 28, 1))."
        )
    convolutions = [i for i, kind in enumerate(kinds) if kind in models.CONVOLUTIONS]
    if not convolutions:
        problems.append(
            f"The model has no convolution layer (its layers: {', '.join(kinds) or 'none'}). "
            "The lab asks for a convolutional network: add "
            "layers.Conv2D(32, kernel_size=(3, 3), activation='relu') after the input."
        )
    elif not any(kind in models.POOLINGS for kind in kinds[convolutions[0] + 1 :]):
        problems.append(
            "No pooling layer follows the convolution layer: add "
            "layers.MaxPooling2D(pool_size=(2, 2)) after Conv2D."
        )
    if not any(kind in models.FLATTENS for kind in kinds):
        problems.append(
            "The model has no Flatten layer between the convolution part and the Dense layers: "
            "add layers.Flatten() before the first Dense layer."
        )
    problems += _output_problems(network, layers)
    count = models.parameter_count(network)
    low, high = thresholds.min_parameters, thresholds.max_parameters
    if count is not None and not low <= count <= high:
        problems.append(
            f"The model has {count:,} parameters; expected between {low:,} and {high:,}. "
            + ("Add filters or units." if count < low else "Use fewer filters or units.")
        )
    return _verdict(
        problems,
        f"A convolutional network: {' > '.join(kinds)}; {count or 0:,} parameters.",
    )


def _output_problems(network, layers: list) -> list[str]:
    shape = models.output_shape(network)
    if shape != (NUM_CLASSES,):
        return [
            f"The model's output shape is (None, {', '.join(map(str, shape or ()))}); expected "
            "(None, 10), one probability per digit. Does the last Dense layer have 10 units?"
        ]
    last = layers[-1] if layers else None
    if last is None or models.activation(last) != "softmax":
        found = models.activation(last) if last is not None else None
        return [
            f"The last layer's activation is {found or 'none'!r}; expected 'softmax', so that "
            "the 10 outputs are probabilities that sum to 1: "
            "layers.Dense(10, activation='softmax')."
        ]
    return []


def check_compile_settings(model: SavedModel) -> Verdict:
    """The lab model is compiled with the Adam optimizer and categorical cross-entropy."""
    config = model.compile_config
    how = "model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])"
    if not config:
        return Verdict(False, f"The saved model was never compiled. Compile it with {how}.")
    problems = []
    optimizer = models.compiled_optimizer(config)
    if optimizer != "adam":
        problems.append(
            f"The model was compiled with the {optimizer or 'default'!r} optimizer; the lab "
            f"uses Adam: {how}."
        )
    loss = models.compiled_loss(config)
    if loss != "categoricalcrossentropy":
        hint = " (sparse labels need no one-hot encoding)" if "sparse" in loss else ""
        problems.append(
            f"The model was compiled with the loss {loss or 'none'!r}{hint}; the lab uses "
            f"categorical cross-entropy with one-hot labels: {how}."
        )
    return _verdict(problems, "Compiled with Adam and categorical cross-entropy.")


def check_training_history(history: dict, thresholds: Thresholds) -> Verdict:
    """`history` records the required epochs of training, with validation metrics."""
    required = thresholds.required_epochs
    losses = history.get("loss", [])
    if not losses:
        return Verdict(
            False, "`history` holds no training loss. Assign it: history = model.fit(...)."
        )
    problems = []
    if len(losses) < required:
        problems.append(
            f"`history` holds {len(losses)} epoch(s) of training; expected at least {required}. "
            f"Train with model.fit(..., epochs={required})."
        )
    absent = [key for key in ("val_loss", "val_accuracy") if not history.get(key)]
    if absent:
        hint = (
            "pass validation_data=(x_test_reshaped, y_test_onehot) to model.fit"
            if "val_loss" in absent
            else "compile with metrics=['accuracy']"
        )
        problems.append(f"`history` has no {' or '.join(absent)}: {hint}.")
    if not all(math.isfinite(value) for value in losses):
        problems.append(
            "The training loss became NaN or infinite: training diverged. Check the scaling of "
            "the inputs and the learning rate."
        )
    return _verdict(
        problems,
        f"{len(losses)} epochs of training, with validation loss and accuracy each epoch.",
    )


# Accuracy, measured by the grader -----------------------------------------------------------


def check_test_accuracy(model: SavedModel, mnist: Reference, thresholds: Thresholds) -> Verdict:
    """The lab model reaches the required accuracy on the MNIST test set (grader-measured)."""
    return _accuracy_verdict(model, mnist, thresholds.lab_accuracy)


def check_improved_accuracy(
    improved_model: SavedModel, mnist: Reference, thresholds: Thresholds
) -> Verdict:
    """Bonus: the improved model reaches the bonus accuracy on the MNIST test set."""
    return _accuracy_verdict(improved_model, mnist, thresholds.improved_accuracy)


def _accuracy_verdict(model: SavedModel, mnist: Reference, required: float) -> Verdict:
    try:
        accuracy = models.accuracy(model.model, mnist.x_test, mnist.y_test, scale=255.0)
        note = ""
        if accuracy < required:  # a model trained on unscaled pixels: measure it as trained
            raw = models.accuracy(model.model, mnist.x_test, mnist.y_test, scale=1.0)
            if raw > accuracy:
                accuracy = raw
                note = " (measured on unscaled pixels, 0-255, as the model was trained)"
    except ValueError as error:
        return Verdict(False, f"The grader could not evaluate `{model.name}`: {error}.")
    measured = (
        f"The grader measured `{model.name}`'s accuracy on the 10,000 MNIST test images: "
        f"{accuracy:.4f}{note}"
    )
    if accuracy >= required:
        return Verdict(True, f"{measured}; required {required}.")
    return Verdict(
        False,
        f"{measured}; required at least {required}. Train on all 60,000 training images for "
        "the full number of epochs, check the architecture, and keep the learning rate at "
        "Adam's default.",
    )


# Scanned digits -----------------------------------------------------------------------------


def check_scan_preprocessing(scan_outputs: tuple[ScanOutput, ...]) -> Verdict:
    """`preprocess_scan(path)` returns one model input, shape (1, 28, 28, 1), in [0, 1]."""
    total = len(scan_outputs)
    failures = [output for output in scan_outputs if output.array is None]
    if failures:
        first = failures[0]
        return Verdict(
            False,
            f"preprocess_scan failed for {len(failures)} of {total} supplied scans (first: "
            f"{first.sample.path.name}: {first.error}). It must accept the path of any image "
            "file and return an array.",
        )
    wrong_shape = [o for o in scan_outputs if o.array.shape != (1, *IMAGE_SHAPE, 1)]
    if wrong_shape:
        return Verdict(
            False,
            f"preprocess_scan returned shape {wrong_shape[0].array.shape} for "
            f"{len(wrong_shape)} of {total} scans; expected (1, 28, 28, 1), one image ready "
            "for model.predict. Reshape with .reshape(1, 28, 28, 1).",
        )
    low = min(float(np.min(o.array)) for o in scan_outputs)
    high = max(float(np.max(o.array)) for o in scan_outputs)
    if not (math.isfinite(low) and math.isfinite(high)) or low < 0.0 or high > 1.0:
        return Verdict(
            False,
            f"preprocess_scan returned values from {low:g} to {high:g}; expected values in "
            "[0, 1], like the training images. Divide the pixel values by 255.0.",
        )
    return Verdict(True, f"All {total} scans became (1, 28, 28, 1) inputs in [0, 1].")


def check_scanned_digits(
    model: SavedModel,
    scan_outputs: tuple[ScanOutput, ...],
    mnist: Reference,
    thresholds: Thresholds,
) -> Verdict:
    """The lab model, fed by `preprocess_scan`, classifies enough of the supplied scans."""
    views, stand_ins = [], 0
    for index, output in enumerate(scan_outputs):
        view = _usable_view(output.array)
        if view is None:  # shape and errors are scan_preprocessing's business
            view, stand_ins = mnist.reference_view(index), stand_ins + 1
        views.append(view)
    shape = models.input_shape(model.model)
    if shape is None or int(np.prod(shape)) != 28 * 28:
        return Verdict(False, f"The model's input shape {shape} does not take 28x28 images.")
    inputs = np.stack(views).astype("float32").reshape((-1, *shape))
    try:
        predicted = models.predictions(model.model, inputs)
    except ValueError as error:
        return Verdict(False, f"The grader could not classify the scans: {error}.")
    labels = np.array([output.sample.label for output in scan_outputs])
    right, total = int(np.sum(predicted == labels)), len(labels)
    required = math.ceil(thresholds.scanned_digits_fraction * total)
    note = (
        f" ({stand_ins} scan(s) that preprocess_scan could not turn into 28x28 values were "
        "prepared by the kit instead)"
        if stand_ins
        else ""
    )
    found = f"The model classified {right} of {total} supplied scans correctly{note}"
    if right >= required:
        return Verdict(True, f"{found}; required {required}.")
    return Verdict(
        False,
        f"{found}; required at least {required}. Make the scans look like MNIST: white digit "
        "on black, cropped to the ink, fitted into a 20x20 box and centred in 28x28.",
    )


def _usable_view(array: np.ndarray | None) -> np.ndarray | None:
    if array is None or array.size != 28 * 28:
        return None
    view = array.astype(np.float64).reshape(IMAGE_SHAPE)
    if not np.all(np.isfinite(view)):
        return None
    if view.max() > 1.0:  # unscaled (0-255): scan_preprocessing reports it
        view = view / 255.0
    return np.clip(view, 0.0, 1.0)


# The lab's outputs --------------------------------------------------------------------------


def check_lab_outputs(
    notebook: NotebookNode, metrics: Table, history: dict | Missing = None
) -> Verdict:
    """The notebook shows the metrics table, history plots, confusion matrix and report."""
    problems = _metrics_problems(metrics, history)
    ran = [
        cell
        for _, cell in student_code_cells(notebook)
        if cell.get("outputs") and not any(o.output_type == "error" for o in cell.outputs)
    ]
    plots = sum(
        _images(cell)
        for cell in ran
        if mentions_name(cell.source, "metrics") or mentions_name(cell.source, "history")
    )
    if plots < MIN_HISTORY_PLOTS:
        problems.append(
            f"Found {plots} plot(s) of the training history; expected {MIN_HISTORY_PLOTS}: "
            "accuracy vs val_accuracy and loss vs val_loss per epoch, e.g. "
            "metrics[['loss', 'val_loss']].plot()."
        )
    if not any(calls_function(cell.source, f) for cell in ran for f in CONFUSION_MATRIX_CALLS):
        problems.append(
            "No confusion matrix was shown: print confusion_matrix(y_test, y_pred) from "
            "sklearn.metrics, in a cell that runs without errors."
        )
    if not any(calls_function(cell.source, "classification_report") for cell in ran):
        problems.append(
            "No classification report was shown: print classification_report(y_test, y_pred) "
            "from sklearn.metrics, in a cell that runs without errors."
        )
    return _verdict(
        problems,
        "The metrics table, the accuracy and loss plots, the confusion matrix and the "
        "classification report are all in the notebook.",
    )


def _metrics_problems(metrics: Table, history) -> list[str]:
    how = "metrics = pd.DataFrame(history.history)"
    if isinstance(history, Missing) or history is None:
        if "loss" not in metrics.values:
            return [f"`metrics` has no 'loss' column; expected the training history: {how}."]
        return []
    absent = sorted(set(history) - set(metrics.values))
    if absent:
        return [f"`metrics` lacks the history's column(s) {', '.join(absent)}: {how}."]
    for key, values in history.items():
        column = metrics.values[key]
        if len(column) != len(values) or not np.allclose(
            np.array(column, dtype=float), values, atol=METRICS_TOLERANCE, equal_nan=True
        ):
            return [f"`metrics['{key}']` differs from history.history['{key}']: {how}."]
    return []


def _images(cell: NotebookNode) -> int:
    return sum(
        1
        for output in cell.outputs
        if any(kind.startswith("image/") for kind in output.get("data", {}))
    )


# The catalogue, in the order of the feedback: the lab's steps, then the bonus.
CHECKS = (
    check_data_shapes,
    check_scaled_pixels,
    check_one_hot_labels,
    check_cnn_architecture,
    check_compile_settings,
    check_training_history,
    check_test_accuracy,
    check_scan_preprocessing,
    check_scanned_digits,
    check_lab_outputs,
    check_improved_accuracy,
)


def check_name(check) -> str:
    return check.__name__.removeprefix("check_")


def check_title(check) -> str:
    """The first line of the check's docstring, without its full stop."""
    return (check.__doc__ or check_name(check)).strip().splitlines()[0].rstrip(".")


CHECK_NAMES = tuple(check_name(check) for check in CHECKS)
