"""The student's lab report, built from the run that was graded (``mnist-lab grade --report``).

The grader already has all a report needs once the notebook ran: the executed notebook and
the models, histories and scan outputs its export cell saved. `write_graded_report` lays
those out as `mnist-lab run` would, so that a notebook is executed once for its grade and
its report alike. It runs in the grader's process after the kernel and everything it
started are gone, and after the checker has scored the run, whose scores it never reads or
changes; the models are loaded in Keras safe mode, and only plain files the export cell
wrote (never a link) are read, each copied first into a folder of the grader's own.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import tempfile
from pathlib import Path

import numpy as np

from mnist_lab.errors import LabError
from mnist_lab.grading import export
from mnist_lab.notebook.execute import ExecutedNotebook
from mnist_lab.notebook.export import Artefacts
from mnist_lab.scans import Sample

logger = logging.getLogger(__name__)

# The most the report copies of one exported file: a model (the lab's are a few MB), and
# anything else (a history, a scan's output).
MAX_MODEL_BYTES = 200_000_000
MAX_FILE_BYTES = 10_000_000


def _copy_plain_file(source: Path, target: Path, limit: int = MAX_FILE_BYTES) -> bool:
    """Copy ``source`` if it is a regular file of at most ``limit`` bytes in a real folder,
    never through a link, a FIFO or a device; False otherwise."""
    if source.parent.is_symlink():  # O_NOFOLLOW covers only the last part of the path
        return False
    try:  # non-blocking: opening a FIFO nobody writes to would wait forever
        descriptor = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    with os.fdopen(descriptor, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return False
        os.set_blocking(file.fileno(), True)
        with open(target, "wb") as copy:
            shutil.copyfileobj(file, copy)
    return True


def report_artefacts(export_dir: Path, samples: list[Sample], private: Path) -> Artefacts:
    """What the grading export saved, as the report reads it; files are copied to ``private``.

    The scan outputs are keyed by the names of ``samples`` (the grading scans, in the order
    the export cell was given them); outputs that are not 28 x 28 values are left out.
    """
    models = {}
    for name in export.MODEL_NAMES:
        model = private / f"{name}.keras"
        if _copy_plain_file(export_dir / f"{name}.keras", model, MAX_MODEL_BYTES):
            models[name] = private / f"{name}.keras"
    histories = {}
    for name in export.HISTORY_NAMES:
        target = private / f"{name}.json"
        if _copy_plain_file(export_dir / f"{name}.json", target):
            try:
                data = json.loads(target.read_text())
            except (ValueError, RecursionError):
                continue
            if isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
                histories[name] = data
    views = {}
    for index, sample in enumerate(samples):
        target = private / f"scan-{index}.npy"
        if not _copy_plain_file(export_dir / "scans" / f"{index}.npy", target):
            continue
        try:
            view = np.load(target, allow_pickle=False)
        except (OSError, ValueError):
            continue
        if not isinstance(view, np.ndarray):  # an .npz archive saved under the name
            view.close()
            continue
        if view.dtype.kind in "biuf" and view.size == 28 * 28:
            views[sample.path.name] = view.reshape(28, 28).astype("float32")
    status = {}
    if _copy_plain_file(export_dir / export.STATUS_FILE, private / export.STATUS_FILE):
        try:
            status = json.loads((private / export.STATUS_FILE).read_text())
        except (ValueError, RecursionError):
            status = {}
    missing = status.get("missing", {}) if isinstance(status, dict) else {}
    missing = {str(k): str(v) for k, v in missing.items()} if isinstance(missing, dict) else {}
    return Artefacts(private, models, histories, views, missing=missing)


def write_graded_report(
    executed: ExecutedNotebook,
    export_dir: Path,
    report_dir: Path,
    *,
    samples: list[Sample],
    samples_dir: Path,
    mnist_path: Path,
) -> bool:
    """Write the lab report of a graded run into ``report_dir``; returns whether it did.

    A run without a trained model or history gets no report, and a warning that says why;
    an earlier report in ``report_dir`` is then removed, so that none is taken for this
    run's. Nothing here can cost the grade: every error is logged, never raised.
    """
    from mnist_lab.quiet import import_tensorflow_quietly
    from mnist_lab.run import REPORT_MARKER, write_report_folder

    try:
        import_tensorflow_quietly()  # the grader's own TensorFlow, for the report's evaluation
        with tempfile.TemporaryDirectory(prefix="mnist-lab-report-") as private:
            artefacts = report_artefacts(export_dir, samples, Path(private))
            write_report_folder(
                executed, artefacts, report_dir, mnist_path=mnist_path, samples_dir=samples_dir
            )
        return True
    except LabError as error:
        logger.warning("No lab report was written to %s: %s", report_dir, error)
    except Exception:  # an export the report cannot read: the grade stands regardless
        logger.exception("No lab report was written to %s", report_dir)
    if (report_dir / REPORT_MARKER).is_file():  # an earlier run's report: not this one's
        shutil.rmtree(report_dir, ignore_errors=True)
    return False
