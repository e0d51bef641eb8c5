"""`run_lab`: execute a lab notebook and write its lab report.

The report is built in a staging folder beside the destination and moved into place only
when every file is written, so a failed run never leaves a partial report that looks
complete.
"""

from __future__ import annotations

import copy
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import nbformat

from mnist_lab.data import load_mnist, locate_mnist
from mnist_lab.errors import LabError
from mnist_lab.grading.kernel.export import export_cell
from mnist_lab.notebook.execute import (
    DEFAULT_CELL_TIMEOUT_S,
    ExecutedNotebook,
    execute_notebook,
    read_notebook,
)
from mnist_lab.paths import DEFAULT_REPORT_DIR, SOLUTION_NOTEBOOK, sample_images_dir
from mnist_lab.report.artefacts import Artefacts, report_artefacts
from mnist_lab.report.build import MissingForReport, build_content, cell_errors, write_outputs
from mnist_lab.report.content import CellError
from mnist_lab.scans import read_manifest

logger = logging.getLogger(__name__)

REPORT_MARKER = "summary.json"
NO_ROWS = {"train": [], "test": []}  # a folder holding this file is a report we may replace


def check_report_destination(out_dir: Path) -> None:
    """Raises `LabError` unless ``out_dir`` is new, empty, or an earlier report to replace."""
    if out_dir.exists() and not out_dir.is_dir():
        raise LabError(f"--out {out_dir} is a file; expected a folder for the report.")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / REPORT_MARKER).exists():
        raise LabError(
            f"--out {out_dir} is a folder that holds other files, not an earlier report; the kit "
            f"will not replace it. Choose a new or empty folder, e.g. --out build/report."
        )


def _move_into_place(staging: Path, out_dir: Path) -> None:
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        out_dir.rename(old)
    staging.rename(out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def run_lab(
    notebook: str | os.PathLike | None = None,
    *,
    out_dir: str | os.PathLike = DEFAULT_REPORT_DIR,
    cell_timeout: int = DEFAULT_CELL_TIMEOUT_S,
) -> dict:
    """Run ``notebook`` (default: the reference solution) and write its report to ``out_dir``.

    The run goes on past a cell that raises or times out, as the grader's does; the report
    marks each such cell, and ``summary.json`` lists them under ``cell_errors``. Returns that
    summary. Raises `LabError`, and writes no report, when the notebook is missing or broken,
    the kernel dies, or the notebook does not define what the report needs (the trained lab
    `model` and its `history`).
    """
    notebook = Path(notebook) if notebook is not None else SOLUTION_NOTEBOOK
    out_dir = Path(out_dir)
    read_notebook(notebook)  # fail fast, before a kernel starts
    check_report_destination(out_dir)
    local = locate_mnist()
    if local is not None and not local.is_file():
        load_mnist()  # says what is wrong with $MNIST_PATH, before the notebook runs
    samples = read_manifest(sample_images_dir())
    with tempfile.TemporaryDirectory(prefix="mnist-lab-export-") as folder:
        export_dir, private = Path(folder) / "export", Path(folder) / "private"
        private.mkdir()
        logger.info("Running %s", notebook)
        # The grader's export cell, the kit's one export path; no rows of the arrays needed.
        code = export_cell(export_dir, rows=NO_ROWS, scans=[str(s.path) for s in samples])
        # Like Jupyter's "Run All" would if it went on past errors: a report is written when
        # the lab model trained, and marks each cell that stopped (an untouched bonus cell,
        # a check that does not pass yet).
        executed = execute_notebook(
            notebook, cell_timeout=cell_timeout, extra_code=code, allow_errors=True
        )
        if executed.failure is not None:
            raise LabError(
                f"{notebook.name} stopped in {executed.failure.describe()}. "
                f"Fix that cell, check it runs with Kernel > Restart & Run All in Jupyter, "
                f"and run again. No report was written."
            )
        logger.info("Notebook ran in %.0f s; evaluating the model", executed.seconds)
        errors = cell_errors(executed)
        for error in errors:
            logger.warning("%s stopped with an error: %s", error.where, error.message)
        export = _export_failure(executed)
        if export is not None:
            raise LabError(
                f"The notebook's cells ran, but the kit could not export what they made: "
                f"{export.message.rstrip('.')}. {_first_error(errors)}No report was written."
            )
        artefacts = report_artefacts(export_dir, samples, private)
        try:
            return write_report_folder(executed, artefacts, out_dir)
        except MissingForReport as error:
            raise LabError(f"{error} {_first_error(errors)}No report was written.") from error


def _export_failure(executed: ExecutedNotebook):
    """Why the kit's export cell (the last) did not run through, or None when it did."""
    last = len(executed.notebook.cells) - 1
    return next((e for e in executed.errors if e.cell_index == last), None)


def _first_error(errors: Sequence[CellError]) -> str:
    """ "The first cell that stopped ... ", ending in a space, or "" when none did."""
    if not errors:
        return ""
    first = errors[0]
    others = len(errors) - 1
    more = ""
    if others:
        more = f" ({others} more {'cell' if others == 1 else 'cells'} after it did too)"
    message = first.message.rstrip(".")
    return f"The first cell that stopped with an error was {first.where}: {message}{more}. "


def write_report_folder(
    executed: ExecutedNotebook,
    artefacts: Artefacts,
    out_dir: Path,
    *,
    mnist_path: Path | None = None,
    samples_dir: Path | None = None,
) -> dict:
    """Write the report of a notebook run into ``out_dir``, whole or not at all.

    The files are written in a staging folder beside ``out_dir`` and moved into place when
    all are there. Returns the summary; raises `LabError` when the run lacks what the report
    needs (its trained model, its history).
    """
    check_report_destination(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    try:
        content = build_content(executed, artefacts, mnist_path=mnist_path, samples_dir=samples_dir)
        summary = write_outputs(content, executed, artefacts, staging)
        notebook = copy.deepcopy(executed.notebook)
        notebook.cells = [c for c in notebook.cells if c.metadata.get("mnist_lab") != "export"]
        nbformat.write(notebook, staging / "notebook.ipynb")
        _move_into_place(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("Report written to %s", out_dir)
    return summary
