"""Running notebooks in a real kernel: failures are located and explained, never raised."""

from __future__ import annotations

import logging

import pytest

from mnist_lab.notebook.execute import execute_notebook
from tests.fixtures import notebooks

pytestmark = pytest.mark.limits


def test_a_failing_cell_is_located_and_explained(tmp_path):
    executed = execute_notebook(notebooks.raises_in_training(tmp_path))
    failure = executed.failure
    assert failure is not None
    assert failure.kind == "error"
    assert failure.cell_index == 3  # markdown, header, data, then the failing cell
    assert "NameError" in failure.message and "modle" in failure.message
    assert failure.describe().startswith("cell 4 (PROGRAM): NameError")


def test_a_cell_over_its_time_limit_is_stopped(tmp_path):
    path = tmp_path / "sleeps.ipynb"
    import nbformat

    nbformat.write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import time; time.sleep(60)")]),
        path,
    )
    executed = execute_notebook(path, cell_timeout=2)
    assert executed.failure is not None and executed.failure.kind == "timeout"
    assert executed.seconds < 30


def test_progress_names_the_epochs_and_tensorflow_noise_stays_out(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="mnist_lab")
    executed = execute_notebook(notebooks.tiny_lab(tmp_path))
    assert executed.failure is None
    assert "training epoch 2/2" in caplog.text
    assert "[cell 4/4]" in caplog.text
    stderr = [
        output["text"]
        for cell in executed.notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.get("name") == "stderr"
    ]
    assert not any("oneDNN" in text or "cpu_feature_guard" in text for text in stderr)


def test_a_cell_that_ignores_its_interrupt_skips_every_later_cell(tmp_path):
    """Catching KeyboardInterrupt keeps the kernel busy: nothing else could run anyway."""
    import nbformat

    stubborn = (
        "import contextlib\nimport time\n\nwhile True:\n"
        "    with contextlib.suppress(KeyboardInterrupt):\n        time.sleep(0.1)"
    )
    path = tmp_path / "stubborn.ipynb"
    cells = [nbformat.v4.new_code_cell(stubborn), nbformat.v4.new_code_cell("print('later')")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    executed = execute_notebook(path, cell_timeout=2, allow_errors=True, extra_code="print(1)")
    assert [(error.cell_index, error.kind) for error in executed.errors] == [
        (0, "timeout"),
        (1, "skipped"),
        (2, "skipped"),
    ]
    assert "did not stop when interrupted" in executed.errors[0].message
    assert executed.errors[1].message.endswith(
        "still running cell 1, which did not stop at its time limit"
    )
    assert executed.notebook.cells[1].outputs == []
    assert executed.seconds < 30  # the time limit and a short wait, not one per cell


def test_a_cell_slow_to_stop_after_its_interrupt_is_not_taken_for_stuck(tmp_path):
    """Native code sees the interrupt late: within the grace period, later cells still run."""
    import nbformat

    slow = (
        "import time\n\ntry:\n    time.sleep(60)\n"
        "except KeyboardInterrupt:\n    time.sleep(1)\n    raise"
    )
    path = tmp_path / "slow.ipynb"
    cells = [nbformat.v4.new_code_cell(slow), nbformat.v4.new_code_cell("print('later')")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    executed = execute_notebook(path, cell_timeout=3, allow_errors=True)
    assert [(error.cell_index, error.kind) for error in executed.errors] == [(0, "timeout")]
    assert executed.errors[0].message == "CellTimeoutError: the cell ran past its time limit"
    assert executed.notebook.cells[1].outputs[0]["text"] == "later\n"
