"""Checks of the data steps: the arrays as loaded, scaled, one-hot encoded and reshaped.

Each check compares the grader's random sample of each array's rows (`ExportedArray`) with
the grader's own verified MNIST (`mnist`), never with a figure the notebook computed.
"""

import numpy as np

from mnist_lab.contract import IMAGE_SHAPE, NUM_CLASSES, SPLIT_SIZES
from mnist_lab.grading.checker.artefacts import ExportedArray

# Largest difference from images / 255 still counted as equal (float16 storage is fine).
PIXEL_TOLERANCE = 1e-3


def test_data_shapes(
    x_train, y_train, x_test, y_test, x_train_reshaped, x_test_reshaped, mnist, exported, feedback
):
    """The data is kept as loaded, and the images are reshaped to (N, 28, 28, 1)."""
    problems = []
    for array in (x_train, y_train, x_test, y_test):
        expected = getattr(mnist, array.name)
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
    for array in (x_train_reshaped, x_test_reshaped):
        scaled = exported.get(array.name.replace("_reshaped", "_scaled"))
        problems += _reshape_problems(array, scaled, mnist)
    assert not problems, "\n".join(problems)
    feedback.note(
        "x_train (60000, 28, 28), x_test (10000, 28, 28) and the labels are as loaded; "
        "x_train_reshaped is (60000, 28, 28, 1) and x_test_reshaped (10000, 28, 28, 1)."
    )


def test_scaled_pixels(x_train_scaled, x_test_scaled, mnist, feedback):
    """The pixels are scaled to [0, 1]: x_train_scaled == x_train / 255.0 (floats)."""
    problems = [*_scaling_problems(x_train_scaled, mnist), *_scaling_problems(x_test_scaled, mnist)]
    assert not problems, "\n".join(problems)
    feedback.note(
        "x_train_scaled and x_test_scaled are floats in [0, 1], equal to the images / 255."
    )


def test_one_hot_labels(y_train_onehot, y_test_onehot, mnist, feedback):
    """The labels are one-hot encoded: shape (N, 10), one 1 per row, at the label's digit."""
    problems = [*_one_hot_problems(y_train_onehot, mnist), *_one_hot_problems(y_test_onehot, mnist)]
    assert not problems, "\n".join(problems)
    feedback.note("y_train_onehot (60000, 10) and y_test_onehot (10000, 10) encode the labels.")


def _split(array: ExportedArray) -> str:
    return "train" if "train" in array.name else "test"


def _shape(shape) -> str:
    return str(tuple(shape))


def _reshape_problems(array: ExportedArray, scaled, mnist) -> list[str]:
    n = SPLIT_SIZES[_split(array)]
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
    images = getattr(mnist, f"x_{_split(array)}")[array.row_indices].reshape(len(flat), -1)
    candidates += [images / 255.0, images]
    for candidate in candidates:
        if candidate.shape == flat.shape and np.allclose(flat, candidate, atol=PIXEL_TOLERANCE):
            return []
    return [
        f"`{array.name}` has the right shape but does not hold the same images, in the same "
        f"order, as `{source}`. Reshape it with `{source}.reshape(-1, 28, 28, 1)`; do not "
        "transpose or shuffle it."
    ]


def _scaling_problems(array: ExportedArray, mnist) -> list[str]:
    n = SPLIT_SIZES[_split(array)]
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
    if not (np.isfinite(low) and np.isfinite(high)):
        return [f"`{array.name}` holds NaN or infinite values; expected values in [0, 1]. {how}"]
    if low < 0.0:
        return [
            f"`{array.name}` has values from {low:g} to {high:g}; expected values in [0, 1]. "
            "Values below 0 come from subtracting a mean or standardising, which the lab does "
            f"not do: only divide. {how}"
        ]
    if high > 1.0:
        why = (
            "the pixel values (0-255) are not scaled yet"
            if high > 2.0
            else "they are slightly above 1 (divided by a number under 255?)"
        )
        return [
            f"`{array.name}` has values from {low:g} to {high:g}; expected values in [0, 1]: "
            f"{why}. {how}"
        ]
    images = getattr(mnist, original)[array.row_indices].reshape(len(array.rows), -1) / 255.0
    difference = float(np.max(np.abs(array.rows.reshape(len(images), -1) - images)))
    if difference > PIXEL_TOLERANCE:
        return [
            f"`{array.name}` is in [0, 1] but is not the images divided by 255 (it differs by "
            f"up to {difference:.3g}; min-max scaling, standardising or dividing by another "
            f"number changes the data the lab expects). {how}"
        ]
    return []


def _one_hot_problems(array: ExportedArray, mnist) -> list[str]:
    labels_name = array.name.replace("_onehot", "")
    n = SPLIT_SIZES[_split(array)]
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
    labels = getattr(mnist, labels_name)[array.row_indices]
    wrong = np.flatnonzero(rows.argmax(axis=1) != labels)
    if len(wrong):
        row = int(array.row_indices[wrong[0]])
        return [
            f"`{array.name}` does not match `{labels_name}`: row {row} encodes the digit "
            f"{int(rows[wrong[0]].argmax())}, but its label is {int(labels[wrong[0]])}. "
            f"Encode each set's own labels, in order. {how}"
        ]
    return []
