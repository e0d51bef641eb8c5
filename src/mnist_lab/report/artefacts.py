"""What a lab notebook's run exported, read back for the lab report, in the kit's process.

The notebook runs with the grader's export cell (`mnist_lab.grading.kernel.export`), the one
export path of the kit, whether for `mnist-lab run` or for `mnist-lab grade --report`;
`report_artefacts` reads what it saved. Only plain files are read (never a link, a FIFO or
a device), each copied first into a folder of the kit's own; the models are loaded later,
in Keras safe mode. Nothing here computes a figure that is reported.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mnist_lab.contract import HISTORY_NAMES, MODEL_NAMES
from mnist_lab.grading.kernel.export import STATUS_FILE
from mnist_lab.scans import Sample


@dataclass(frozen=True)
class Artefacts:
    """What a notebook run exported, read back in the kit's process."""

    directory: Path
    models: dict[str, Path]
    histories: dict[str, dict[str, list[float]]]
    scan_views: dict[str, np.ndarray]  # file name -> (28, 28)
    missing: dict[str, str] = field(default_factory=dict)
    scan_errors: dict[str, str] = field(default_factory=dict)


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
    for name in MODEL_NAMES:
        model = private / f"{name}.keras"
        if _copy_plain_file(export_dir / f"{name}.keras", model, MAX_MODEL_BYTES):
            models[name] = private / f"{name}.keras"
    histories = {}
    for name in HISTORY_NAMES:
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
    if _copy_plain_file(export_dir / STATUS_FILE, private / STATUS_FILE):
        try:
            status = json.loads((private / STATUS_FILE).read_text())
        except (ValueError, RecursionError):
            status = {}
    missing = status.get("missing", {}) if isinstance(status, dict) else {}
    missing = {str(k): str(v) for k, v in missing.items()} if isinstance(missing, dict) else {}
    return Artefacts(private, models, histories, views, missing=missing)
