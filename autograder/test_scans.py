"""Checks of the scanned digits: `preprocess_scan` makes model inputs, and the model reads them.

`scan_outputs` holds, for each supplied scan, what the notebook's ``preprocess_scan(path)``
returned (`ScanOutput.array`) or the error it raised (`ScanOutput.error`).
"""

import math

import numpy as np

from mnist_lab.contract import IMAGE_SHAPE
from mnist_lab.grading.checker import models

# Outputs up to this are taken for unscaled pixels (0-255); above 1 but below it, for a
# resampling filter that overshoots.
UNSCALED_ABOVE = 2.0


def test_scan_preprocessing(scan_outputs, feedback):
    """`preprocess_scan(path)` returns one model input, shape (1, 28, 28, 1), in [0, 1]."""
    total = len(scan_outputs)
    failures = [output for output in scan_outputs if output.array is None]
    assert not failures, (
        f"preprocess_scan failed for {len(failures)} of {total} supplied scans (first: "
        f"{failures[0].sample.path.name}: {failures[0].error}). It must accept the path of any "
        "image file and return an array."
    )
    wrong_shape = [o for o in scan_outputs if o.array.shape != (1, *IMAGE_SHAPE, 1)]
    assert not wrong_shape, (
        f"preprocess_scan returned shape {wrong_shape[0].array.shape} for "
        f"{len(wrong_shape)} of {total} scans; expected (1, 28, 28, 1), one image ready "
        "for model.predict. Reshape with .reshape(1, 28, 28, 1)."
    )
    low = min(float(np.min(o.array)) for o in scan_outputs)
    high = max(float(np.max(o.array)) for o in scan_outputs)
    found = f"preprocess_scan returned values from {low:g} to {high:g}; expected values in [0, 1]"
    assert math.isfinite(low) and math.isfinite(high), (
        f"{found}, with no NaN or infinity. Check for a division by zero (an empty or blank "
        "image scaled by its own maximum, say)."
    )
    assert not (high > UNSCALED_ABOVE and low >= 0.0), (
        f"{found}, like the training images: the pixel values (0-255) are not scaled yet. "
        "Divide them by 255.0."
    )
    assert low >= 0.0 and high <= 1.0, (
        f"{found}, like the training images. Values just outside come from a resampling "
        "filter that overshoots (Lanczos or bicubic on a float image) or from subtracting a "
        "background: clip the result with np.clip(view, 0.0, 1.0) as the last step."
    )
    feedback.note(f"All {total} scans became (1, 28, 28, 1) inputs in [0, 1].")


def test_scanned_digits(model, scan_outputs, mnist, thresholds, feedback):
    """The lab model, fed by `preprocess_scan`, classifies enough of the supplied scans."""
    views, stand_ins = [], 0
    for index, output in enumerate(scan_outputs):
        view = _usable_view(output.array)
        if view is None:  # shape and errors are scan_preprocessing's business
            view, stand_ins = mnist.reference_view(index), stand_ins + 1
        views.append(view)
    shape = models.input_shape(model.model)
    assert shape is not None and int(np.prod(shape)) == 28 * 28, (
        f"The model's input shape {shape} does not take 28x28 images."
    )
    inputs = np.stack(views).astype("float32").reshape((-1, *shape))
    try:
        predicted = models.predictions(model.model, inputs)
    except ValueError as error:
        raise AssertionError(f"The grader could not classify the scans: {error}.") from None
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
    assert right >= required, (
        f"{found}; required at least {required}. Make the scans look like MNIST: white digit "
        "on black, cropped to the ink, fitted into a 20x20 box and centred in 28x28."
    )
    feedback.note(f"{found}; required {required}.")


def _usable_view(array):
    if array is None or array.size != 28 * 28:
        return None
    view = array.astype(np.float64).reshape(IMAGE_SHAPE)
    if not np.all(np.isfinite(view)):
        return None
    if view.max() > UNSCALED_ABOVE:  # unscaled (0-255): scan_preprocessing reports it
        view = view / 255.0
    return np.clip(view, 0.0, 1.0)
