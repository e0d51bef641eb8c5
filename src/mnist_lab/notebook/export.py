"""Export what a lab notebook made, from inside its kernel, to plain files.

After a notebook's own cells, the kit runs `EXPORT_CELL` in the same kernel. It saves the
objects the lab asks for, under the names the template gives them, to a folder:

- ``model.keras`` / ``improved_model.keras``: the models, in the native Keras format;
- ``history.json``: ``history.history`` and ``improved_history.history``;
- ``scan_views.npz``: what the notebook's ``preprocess_scan`` made of each supplied scan;
- ``export.json``: what was found, and why anything was not.

Nothing here computes a figure that is reported: the kit re-evaluates the exported model
in its own process. Only plain data leaves the kernel (no pickles).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MODEL_NAMES = ("model", "improved_model")
HISTORY_NAMES = ("history", "improved_history")
MAX_HISTORY_VALUES = 100_000  # far more than any real training run records
SCAN_FUNCTION = "preprocess_scan"

EXPORT_CELL = """\
from mnist_lab.notebook.export import export_from_kernel as _mnist_lab_export
_mnist_lab_export(globals(), {out_dir!r})
del _mnist_lab_export
"""


def export_cell(out_dir: Path) -> str:
    """The code the kit appends to a notebook to export its artefacts to ``out_dir``."""
    return EXPORT_CELL.format(out_dir=str(out_dir))


def history_values(value) -> dict[str, list[float]]:
    """``history.history`` (or a dict like it) as plain lists of floats; raises on anything else.

    Strict on purpose: it runs on student objects, so only exact dicts, lists and numbers pass,
    and the number of values is capped.
    """
    history = value if type(value) is dict else getattr(value, "history", None)
    if type(history) is not dict:
        raise TypeError(
            f"it is a {type(value).__qualname__}; expected what model.fit(...) returns "
            "(a History, whose .history is a dict)"
        )
    result, count = {}, 0
    for key, values in history.items():
        if type(values) not in (list, tuple):
            raise TypeError(f"history[{key!r}] is a {type(values).__qualname__}, not a list")
        count += len(values)
        if count > MAX_HISTORY_VALUES:
            raise ValueError("the history holds too many values")
        if not all(type(v) in (int, float) or issubclass(type(v), np.number) for v in values):
            raise TypeError(f"history[{key!r}] holds values that are not numbers")
        result[str(key)] = [float(value) for value in values]
    return result


def export_from_kernel(namespace: dict, out_dir: str) -> None:
    """Runs inside the notebook's kernel: save the lab's objects found in ``namespace``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    status: dict[str, dict[str, str]] = {"found": {}, "missing": {}}

    for name in MODEL_NAMES:
        if name not in namespace:
            status["missing"][name] = "not defined"
            continue
        try:
            namespace[name].save(out / f"{name}.keras")
            status["found"][name] = f"{name}.keras"
        except Exception as error:
            status["missing"][name] = f"could not be saved: {type(error).__name__}: {error}"

    histories = {}
    for name in HISTORY_NAMES:
        if name not in namespace:
            status["missing"][name] = "not defined"
            continue
        try:
            histories[name] = history_values(namespace[name])
            status["found"][name] = "history.json"
        except Exception as error:
            status["missing"][name] = f"{type(error).__name__}: {error}"
    (out / "history.json").write_text(json.dumps(histories))

    _export_scan_views(namespace.get(SCAN_FUNCTION), out, status)
    (out / "export.json").write_text(json.dumps(status, indent=2))


def _export_scan_views(function, out: Path, status: dict) -> None:
    if not callable(function):
        status["missing"][SCAN_FUNCTION] = "not defined"
        return
    from mnist_lab.paths import sample_images_dir
    from mnist_lab.scans import read_manifest

    files, views, errors = [], [], {}
    for sample in read_manifest(sample_images_dir()):
        try:
            view = np.asarray(function(str(sample.path)), dtype="float32")
            if view.size != 28 * 28:
                raise ValueError(f"returned shape {view.shape}; expected (1, 28, 28, 1)")
            views.append(view.reshape(28, 28))
            files.append(sample.path.name)
        except Exception as error:
            errors[sample.path.name] = f"{type(error).__name__}: {error}"
    np.savez(out / "scan_views.npz", files=np.array(files, dtype=str), views=np.array(views))
    status["found"][SCAN_FUNCTION] = f"{len(files)} scans"
    if errors:
        status["scan_errors"] = errors


@dataclass(frozen=True)
class Artefacts:
    """What a notebook run exported, read back in the kit's process."""

    directory: Path
    models: dict[str, Path]
    histories: dict[str, dict[str, list[float]]]
    scan_views: dict[str, np.ndarray]  # file name -> (28, 28)
    missing: dict[str, str] = field(default_factory=dict)
    scan_errors: dict[str, str] = field(default_factory=dict)


def read_artefacts(directory: Path) -> Artefacts:
    """Read the files `export_from_kernel` wrote."""
    status_file = directory / "export.json"
    if not status_file.is_file():
        raise FileNotFoundError(f"{status_file} was not written: the export step did not run")
    status = json.loads(status_file.read_text())
    models = {
        n: directory / f"{n}.keras" for n in MODEL_NAMES if (directory / f"{n}.keras").is_file()
    }
    histories = json.loads((directory / "history.json").read_text())
    scan_views = {}
    if (directory / "scan_views.npz").is_file():
        with np.load(directory / "scan_views.npz", allow_pickle=False) as npz:
            scan_views = dict(zip(npz["files"].tolist(), npz["views"], strict=True))
    return Artefacts(
        directory,
        models,
        histories,
        scan_views,
        missing=status.get("missing", {}),
        scan_errors=status.get("scan_errors", {}),
    )
