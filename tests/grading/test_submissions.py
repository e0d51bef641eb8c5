"""Fixture submissions graded end to end: each defect fails exactly its own check.

Every notebook runs in its own kernel and is checked by the checker process, as
`mnist-lab grade` does it; each is graded once per session (see conftest.py).
"""

from __future__ import annotations

import pytest

from mnist_lab.grading.catalogue import CHECK_NAMES
from tests.fixtures.submissions import DEFECTS

# Per defect: a phrase the failing check's message must hold, for a student at midnight.
ADVICE = {
    "wrong_reshape": "expected (60000, 28, 28, 1)",
    "unscaled_pixels": "expected values in [0, 1]",
    "one_hot_of_wrong_labels": "does not match `y_test`",
    "mlp_instead_of_cnn": "no convolution layer",
    "no_softmax": "expected 'softmax'",
    "rmsprop_instead_of_adam": "the lab uses Adam",
    "three_epochs": "holds 3 epoch(s)",
    "undertrained_model": "required at least 0.9",
    "scan_not_batched": "expected (1, 28, 28, 1)",
    "naive_scan_preprocessing": "required at least 30",
    "no_evaluation_outputs": "`metrics` is not defined",
    "no_improved_model": "`improved_model` is not defined",
}


def test_every_check_has_a_fixture_that_fails_it():
    assert {defect.fails for defect in DEFECTS.values()} == set(CHECK_NAMES)
    assert set(ADVICE) == set(DEFECTS)


def test_the_tiny_lab_passes_every_check(graded):
    results = graded("tiny_lab")
    assert results.failed == (), {name: results.check(name).message for name in results.failed}
    assert results.score == results.max_score + results.extra_credit_max
    assert results.cell_errors == ()


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_a_defect_fails_exactly_its_check(graded, name):
    results = graded(name)
    expected = DEFECTS[name].fails
    assert results.failed == (expected,), {n: results.check(n).message for n in results.failed}
    failed = results.check(expected)
    assert failed.points == 0
    assert ADVICE[name] in failed.message
    assert results.score == results.max_score + results.extra_credit_max - failed.max_points


def test_an_unscaled_model_is_measured_as_trained(graded):
    """No cascade: a model trained on 0-255 pixels is evaluated on 0-255 pixels."""
    message = graded("unscaled_pixels").check("test_accuracy").message
    assert "measured on unscaled pixels" in message


def test_preprocessing_without_batch_axis_still_classifies_the_scans(graded):
    assert graded("scan_not_batched").check("scanned_digits").passed


def test_the_untouched_template_scores_zero(graded):
    results = graded("template")
    assert results.score == 0
    assert results.passed == ()
    cells = {error.message.split(":")[0] for error in results.cell_errors}
    assert "NotImplementedError" in cells
    model = results.check("cnn_architecture").message
    assert model.startswith("`model` is not defined yet: ")
    assert "still raise NotImplementedError where your code goes" in model
