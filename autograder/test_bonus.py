"""The bonus: an improved model that reaches a higher accuracy (extra credit)."""

from mnist_lab.grading.checker import models


def test_improved_accuracy(improved_model, mnist, thresholds, feedback):
    """Bonus: the improved model reaches the bonus accuracy on the MNIST test set."""
    required = thresholds.improved_accuracy
    measured = models.measured_accuracy(improved_model, mnist, required)
    assert measured.accuracy >= required, (
        f"{measured}; required at least {required}. {measured.advice()}"
    )
    feedback.note(f"{measured}; required {required}.")
