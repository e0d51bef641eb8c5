"""Checks of training: the history of the lab model, and its accuracy measured by the grader.

The grader evaluates the saved model itself, on its own verified test images: no figure the
notebook printed counts.
"""

import math

from mnist_lab.grading.checker import models


def test_training_history(history, thresholds, feedback):
    """`history` records the required epochs of training, with validation metrics."""
    required = thresholds.required_epochs
    losses = history.get("loss", [])
    assert losses, "`history` holds no training loss. Assign it: history = model.fit(...)."
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
    if not all(value is not None and math.isfinite(value) for value in losses):
        problems.append(
            "The training loss became NaN or infinite: training diverged. Check the scaling of "
            "the inputs and the learning rate."
        )
    assert not problems, "\n".join(problems)
    feedback.note(
        f"{len(losses)} epochs of training, with validation loss and accuracy each epoch."
    )


def test_test_accuracy(model, mnist, thresholds, feedback):
    """The lab model reaches the required accuracy on the MNIST test set (grader-measured)."""
    required = thresholds.lab_accuracy
    measured = models.measured_accuracy(model, mnist, required)
    if measured.accuracy >= required:
        feedback.note(f"{measured}; required {required}.")
        return
    # Partial credit, from the rubric: [[0.97, 0.5]] gives half the points from 0.97 on.
    bands = [
        band for band in thresholds.lab_accuracy_partial_credit if measured.accuracy >= band[0]
    ]
    assert bands, f"{measured}; required at least {required}. {measured.advice()}"
    at_least, fraction = max(bands, key=lambda band: band[1])
    feedback.partial(
        fraction,
        f"{measured}: at least {at_least} earns {_share(fraction)} of the points, {required} "
        f"all of them. {measured.advice()}",
    )


def _share(fraction: float) -> str:
    return "half" if fraction == 0.5 else f"{fraction:.0%}"
