"""The options `execute_notebook` offers the grader: run past errors, a notebook time limit,
a working folder, and a hook before the first cell. Small notebooks, no TensorFlow."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from mnist_lab.notebook.execute import execute_notebook

pytestmark = pytest.mark.limits


def write(path, *sources):
    nbformat.write(new_notebook(cells=[new_code_cell(source) for source in sources]), path)
    return path


def stdout(cell) -> str:
    return "".join(output.get("text", "") for output in cell.outputs)


def test_with_allow_errors_later_cells_still_run(tmp_path):
    notebook = write(tmp_path / "errors.ipynb", "1 / 0", "x = 1", "print(x + 1)")
    executed = execute_notebook(notebook, allow_errors=True, extra_code="print('extra')")
    assert executed.failure is None
    assert [(e.cell_index, e.kind) for e in executed.errors] == [(0, "error")]
    assert executed.errors[0].message.startswith("ZeroDivisionError")
    assert stdout(executed.notebook.cells[2]) == "2\n"
    assert stdout(executed.notebook.cells[3]) == "extra\n"


def test_the_notebook_time_limit_skips_the_rest_but_runs_the_extra_cell(tmp_path):
    notebook = write(
        tmp_path / "slow.ipynb", "import time\ntime.sleep(30)", "print('late')", "print('later')"
    )
    executed = execute_notebook(
        notebook, allow_errors=True, notebook_timeout=2, extra_code="print('extra')"
    )
    assert executed.seconds < 25
    kinds = [(error.cell_index, error.kind) for error in executed.errors]
    assert kinds == [(0, "timeout"), (1, "skipped"), (2, "skipped")]
    assert stdout(executed.notebook.cells[3]) == "extra\n"


def test_the_kernel_runs_in_the_given_folder(tmp_path):
    notebook = write(tmp_path / "cwd.ipynb", "import os\nprint(os.getcwd())")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    executed = execute_notebook(notebook, cwd=elsewhere)
    assert stdout(executed.notebook.cells[0]).strip() == str(elsewhere)


def test_before_cells_runs_first_and_can_stop_the_run(tmp_path):
    notebook = write(tmp_path / "hook.ipynb", "open('ran', 'w').close()")

    def refuse():
        raise RuntimeError("not ready")

    with pytest.raises(RuntimeError, match="not ready"):
        execute_notebook(notebook, before_cells=refuse)
    assert not (tmp_path / "ran").exists()


def test_a_cell_tagged_as_the_kits_own_gets_no_more_time(tmp_path):
    """A student's cell carrying the export cell's tag is still one of the notebook's cells:
    skipped once the notebook's time is up, never taken for the kit's."""
    notebook = write(tmp_path / "tagged.ipynb", "import time\ntime.sleep(30)", "print('late')")
    content = nbformat.read(notebook, as_version=4)
    content.cells[1].metadata["mnist_lab"] = "export"
    nbformat.write(content, notebook)
    executed = execute_notebook(
        notebook, allow_errors=True, notebook_timeout=2, extra_code="print('extra')"
    )
    kinds = [(error.cell_index, error.kind) for error in executed.errors]
    assert kinds == [(0, "timeout"), (1, "skipped")]
    assert [cell.metadata.get("mnist_lab") for cell in executed.notebook.cells] == [
        None,
        None,
        "export",
    ]
