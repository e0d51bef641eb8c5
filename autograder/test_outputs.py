"""Checks of what the notebook shows: the metrics table, history plots, confusion matrix, report.

`notebook` is the executed notebook; only cells that ran without an error count.
"""

import numpy as np

from mnist_lab.grading.sources import calls_function, mentions_name, student_code_cells

# Largest difference between the metrics table and the history still counted as equal.
METRICS_TOLERANCE = 1e-6
MIN_HISTORY_PLOTS = 2
CONFUSION_MATRIX_CALLS = ("confusion_matrix", "ConfusionMatrixDisplay", "from_predictions")


def test_lab_outputs(notebook, metrics, exported, feedback):
    """The notebook shows the metrics table, history plots, confusion matrix and report."""
    problems = _metrics_problems(metrics, exported.get("history"))
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
    assert not problems, "\n".join(problems)
    feedback.note(
        "The metrics table, the accuracy and loss plots, the confusion matrix and the "
        "classification report are all in the notebook."
    )


def _metrics_problems(metrics, history) -> list[str]:
    how = "metrics = pd.DataFrame(history.history)"
    if not isinstance(history, dict):  # no history to compare with: test_training says why
        if "loss" not in metrics.values:
            return [f"`metrics` has no 'loss' column; expected the training history: {how}."]
        return []
    absent = sorted(set(history) - set(metrics.values))
    if absent:
        return [f"`metrics` lacks the history's column(s) {', '.join(absent)}: {how}."]
    for key, values in history.items():
        column = metrics.values[key]
        if len(column) != len(values) or not np.allclose(
            np.array(column, dtype=float),
            np.array(values, dtype=float),
            atol=METRICS_TOLERANCE,
            equal_nan=True,
        ):
            return [f"`metrics['{key}']` differs from history.history['{key}']: {how}."]
    return []


def _images(cell) -> int:
    return sum(
        1
        for output in cell.outputs
        if any(kind.startswith("image/") for kind in output.get("data", {}))
    )
