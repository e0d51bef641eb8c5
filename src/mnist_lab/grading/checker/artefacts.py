"""What the checks look at, read in the checker process.

Two kinds of artefact, kept apart:

- the grader's own `Reference` (the verified MNIST arrays and the supplied scans, read when
  the checker starts, before any student code runs);
- what the student's notebook exported (`read_exports`): arrays, models, histories, the
  metrics table and ``preprocess_scan``'s outputs. Each is a typed, read-only value, or a
  `Missing` that says, for a student, why it is not there ("cell 16 (Step 4) stopped with
  NotImplementedError before defining `model`").
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from nbformat import NotebookNode

from mnist_lab.contract import load_model_safely
from mnist_lab.data import load_mnist
from mnist_lab.grading.kernel import export
from mnist_lab.grading.results import CellError
from mnist_lab.grading.sources import assigning_cells
from mnist_lab.scans import Sample, read_manifest, to_mnist

logger = logging.getLogger(__name__)

MAX_CONFIG_BYTES = 10_000_000
NOT_DONE = "NotImplementedError"  # what the template's unfinished cells raise
SYNTAX_ERRORS = ("SyntaxError", "IndentationError", "TabError")  # a cell that cannot run


@dataclass(frozen=True)
class Missing:
    """An artefact the checks need but the notebook did not provide, and why."""

    name: str
    reason: str

    def describe(self) -> str:
        """One sentence for the student: "`model` is not defined: ..."."""
        text = f"`{self.name}` {self.reason}".rstrip()
        return text if text.endswith(".") else text + "."


@dataclass(frozen=True)
class ExportedArray:
    """The grader's random sample of rows of one of the student's arrays."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    rows: np.ndarray  # the sampled rows, read-only
    row_indices: np.ndarray  # where each sampled row sits in the student's array

    @property
    def length(self) -> int:
        return self.shape[0]


@dataclass(frozen=True)
class SavedModel:
    """A model the notebook saved, loaded in Keras safe mode, with its compile settings."""

    name: str
    model: object  # a keras.Model
    compile_config: dict


@dataclass(frozen=True)
class Table:
    """A pandas DataFrame from the notebook, as columns of numbers."""

    rows: int
    values: dict[str, list[float | None]]


@dataclass(frozen=True)
class ScanOutput:
    """What ``preprocess_scan`` returned for one supplied scan, or the error it raised."""

    sample: Sample
    array: np.ndarray | None
    error: str | None = None


@dataclass(frozen=True)
class Reference:
    """The grader's own data: verified MNIST and the supplied scans, read before the run."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    samples: tuple[Sample, ...]
    sample_bytes: tuple[bytes, ...]
    _views: dict[int, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def scans_unchanged(self) -> bool:
        """True when every supplied scan on disk still has the bytes read at the start."""
        for sample, data in zip(self.samples, self.sample_bytes, strict=True):
            try:
                if _sha256(sample.path.read_bytes()) != _sha256(data):
                    return False
            except OSError:
                return False
        return True

    def reference_view(self, index: int) -> np.ndarray:
        """The kit's own MNIST-style view (28, 28) of scan ``index``, from the bytes read first."""
        if index not in self._views:
            from PIL import Image

            with Image.open(io.BytesIO(self.sample_bytes[index])) as image:
                image.load()
                self._views[index] = to_mnist(image)
        return self._views[index]


def load_reference(mnist_path: str | os.PathLike | None, samples_dir: Path) -> Reference:
    """Read and verify MNIST and read the supplied scans into memory."""
    (x_train, y_train), (x_test, y_test) = load_mnist(mnist_path)
    samples = tuple(read_manifest(samples_dir))
    return Reference(
        *(_read_only(array) for array in (x_train, y_train, x_test, y_test)),
        samples=samples,
        sample_bytes=tuple(sample.path.read_bytes() for sample in samples),
    )


def read_exports(
    directory: Path,
    reference: Reference,
    notebook: NotebookNode,
    cell_errors: tuple[CellError, ...],
    extra_names: tuple[str, ...] = (),
) -> dict[str, object]:
    """Every exported artefact by name: its value, or a `Missing` with the student's reason.

    ``extra_names`` are names the lab does not define that checks asked for; each is read by
    the kind the export cell found (`_read_extra`).
    """
    status_file = directory / export.STATUS_FILE
    explain = _Explainer(notebook, cell_errors, exported=status_file.is_file())
    status = _read_status(status_file)
    missing = status.get("missing", {})
    artefacts: dict[str, object] = {}
    for name in export.ARRAY_SPLITS:
        info = status.get("arrays", {}).get(name)
        artefacts[name] = (
            _read_array(directory, name, info) if info else explain(name, missing.get(name))
        )
    for name in export.MODEL_NAMES:
        path = directory / f"{name}.keras"
        ok = bool(status) and name not in missing and path.is_file()
        artefacts[name] = _read_model(name, path) if ok else explain(name, missing.get(name))
    for name in (*export.HISTORY_NAMES, *export.TABLE_NAMES):
        path = directory / f"{name}.json"
        ok = bool(status) and name not in missing and path.is_file()
        artefacts[name] = _read_json(name, path) if ok else explain(name, missing.get(name))
    scans_ok = export.SCAN_FUNCTION not in missing and bool(status)
    artefacts["scan_outputs"] = (
        _read_scans(directory / "scans", reference, status.get("scan_errors", {}))
        if scans_ok
        else explain(export.SCAN_FUNCTION, missing.get(export.SCAN_FUNCTION))
    )
    if scans_ok and not reference.scans_unchanged():
        artefacts["scan_outputs"] = Missing(
            export.SCAN_FUNCTION,
            "was not graded: the supplied scans in sample_images/ were changed while your "
            "notebook ran. Leave the supplied files as they are.",
        )
    kinds = status.get("kinds", {})
    for name in extra_names:
        kind = kinds.get(name) if isinstance(kinds, dict) else None
        ok = bool(status) and name not in missing and kind in EXTRA_SUFFIXES
        artefacts[name] = (
            _read_extra(name, kind, directory / export.EXTRA_FOLDER)
            if ok
            else explain(name, missing.get(name))
        )
    return artefacts


EXTRA_SUFFIXES = {
    "array": ".npy",
    "model": ".keras",
    "history": ".json",
    "table": ".json",
    "value": ".json",
}


def _read_extra(name: str, kind: str, folder: Path) -> object:
    """A name the lab does not define, read back by its kind; never a pickle, never code."""
    path = folder / f"{name}{EXTRA_SUFFIXES[kind]}"
    if not path.is_file() or path.is_symlink():
        return Missing(name, "could not be read back (its file is missing)")
    if kind == "model":
        return _read_model(name, path)
    if kind == "array":
        try:
            return _read_only(np.load(path, allow_pickle=False))
        except (OSError, ValueError) as error:
            return Missing(name, f"could not be read back ({type(error).__name__})")
    try:
        data = json.loads(path.read_text())
        if kind == "table":
            return Table(rows=int(data["rows"]), values=_number_lists(data["values"]))
        return _number_lists(data) if kind == "history" else data
    except (OSError, ValueError, KeyError, TypeError) as error:
        return Missing(name, f"could not be read back ({type(error).__name__})")


def _read_status(path: Path) -> dict:
    try:
        status = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return status if isinstance(status, dict) else {}


def _read_only(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    array.flags.writeable = False
    return array


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_array(directory: Path, name: str, info: dict) -> ExportedArray | Missing:
    try:
        rows = np.load(directory / f"{name}.npy", allow_pickle=False)
        indices = np.load(directory / f"{name}.rows.npy", allow_pickle=False)
        shape = tuple(int(size) for size in info["shape"])
        dtype = np.dtype(info["dtype"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        return Missing(name, f"could not be read back ({type(error).__name__}: {error})")
    if rows.dtype.kind not in "biuf" or indices.dtype.kind not in "iu" or len(rows) != len(indices):
        return Missing(name, "was exported in a form the grader does not accept")
    return ExportedArray(name, shape, dtype, _read_only(rows), _read_only(indices))


def _read_model(name: str, path: Path) -> SavedModel | Missing:
    try:
        model = load_model_safely(path)
    except Exception as error:  # Keras raises many types for a file it cannot rebuild
        return Missing(
            name,
            f"was saved but could not be loaded safely ({type(error).__name__}: {error}). "
            "Build the model from standard Keras layers (no Lambda layers or custom code)",
        )
    return SavedModel(name, model, _compile_config(path))


def _compile_config(path: Path) -> dict:
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("config.json")
            if info.file_size > MAX_CONFIG_BYTES:
                return {}
            config = json.loads(archive.read(info))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return {}
    compile_config = config.get("compile_config") if isinstance(config, dict) else None
    return compile_config if isinstance(compile_config, dict) else {}


def _read_json(name: str, path: Path) -> object:
    try:
        data = json.loads(path.read_text())
        if name in export.TABLE_NAMES:
            return Table(rows=int(data["rows"]), values=_number_lists(data["values"]))
        return _number_lists(data)
    except (OSError, ValueError, KeyError, TypeError) as error:
        return Missing(name, f"could not be read back ({type(error).__name__})")


def _number_lists(data: object) -> dict[str, list[float | None]]:
    """``data`` if it maps names to lists of numbers (or None); raises TypeError otherwise."""
    if not isinstance(data, dict):
        raise TypeError("expected a mapping of names to lists of numbers")
    for key, values in data.items():
        if not isinstance(values, list) or not all(
            value is None or type(value) in (int, float) for value in values
        ):
            raise TypeError(f"the values of {key!r} are not a list of numbers")
    return data


def _read_scans(
    directory: Path, reference: Reference, errors: dict[str, str]
) -> tuple[ScanOutput, ...]:
    outputs = []
    for index, sample in enumerate(reference.samples):
        path = directory / f"{index}.npy"
        if str(index) in errors or not path.is_file():
            error = errors.get(str(index), "no output was saved")
            outputs.append(ScanOutput(sample, None, error))
            continue
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            outputs.append(ScanOutput(sample, None, f"unreadable output ({error})"))
            continue
        outputs.append(ScanOutput(sample, _read_only(array)))
    return tuple(outputs)


class _Explainer:
    """Says, for a student, why an artefact is missing."""

    def __init__(self, notebook: NotebookNode, cell_errors, *, exported: bool):
        self.notebook = notebook
        self.errors = {error.cell_number: error for error in cell_errors}
        self.stopped = next((e for e in cell_errors if e.kind in ("dead kernel", "skipped")), None)
        self.exported = exported

    def __call__(self, name: str, reason: str | None) -> Missing:
        if reason and reason != "not defined":
            return Missing(name, reason)
        cells = [index + 1 for index in assigning_cells(self.notebook, name)]
        failed = [self.errors[number] for number in cells if number in self.errors]
        if failed:
            error = failed[0]
            return Missing(name, f"is not defined: {error.describe()}")
        if not self.exported:
            why = (
                self.stopped.describe()
                if self.stopped
                else "the grader's export step did not run to the end"
            )
            return Missing(name, f"could not be collected: {why}")
        if not cells:
            unparsed = self._unparsed_cells_naming(name)
            if unparsed:
                return Missing(
                    name,
                    f"is not defined: the cell that names it could not run, "
                    f"{unparsed[0].describe()} (a cell with a syntax error runs none of its "
                    "code). Fix the syntax of that cell",
                )
            unfinished = [e for e in self.errors.values() if e.message.startswith(NOT_DONE)]
            if unfinished:
                return Missing(
                    name,
                    f"is not defined yet: {len(unfinished)} cell(s) of your notebook still "
                    f"raise {NOT_DONE} where your code goes, the first in "
                    f"{unfinished[0].where()}. Replace each `raise NotImplementedError()` "
                    "with your code",
                )
            return Missing(
                name,
                "is not defined: no cell of your notebook assigns it. The lab's instructions "
                "name it exactly so; check the spelling.",
            )
        return Missing(
            name, "is not defined at the end of the notebook (was it deleted or renamed?)"
        )

    def _unparsed_cells_naming(self, name: str) -> list[CellError]:
        """The cells that failed with a syntax error and whose text names ``name``."""
        word = re.compile(rf"\b{re.escape(name)}\b")
        return [
            error
            for error in self.errors.values()
            if error.message.startswith(SYNTAX_ERRORS)
            and error.cell_number <= len(self.notebook.cells)
            and word.search(self.notebook.cells[error.cell_number - 1].source)
        ]
