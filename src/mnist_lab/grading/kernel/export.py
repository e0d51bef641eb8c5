"""Runs inside the student's kernel, after the notebook's cells: save what the lab defined.

The grader appends `export_cell` to the notebook. It writes, as plain data only (``.npy``
files saved without pickles, JSON, ``.keras`` models), the objects the lab's contract names:

- the data arrays: only the rows the grader picked at random for this run (the rows are
  chosen after the student's cells have run, so no cell can prepare for them), with each
  array's full shape and dtype;
- ``model`` and ``improved_model`` in the native Keras format;
- ``history`` / ``improved_history`` (``.history`` dicts) and the ``metrics`` table;
- what ``preprocess_scan`` returns for each supplied scan.

Nothing here judges anything: every value written is treated by the checker process as an
untrusted claim and compared with its own verified data. Objects that are not what the lab
asks for (a list where an array belongs, an object pretending to be an array) are reported
as missing with the reason, never converted by calling their methods blindly.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from mnist_lab.contract import (
    HISTORY_NAMES,
    MAX_ARRAY_VALUES,
    MAX_JSON_CHARS,
    MODEL_NAMES,
    SCAN_FUNCTION,
    SPLITS,
    TABLE_NAMES,
)

__all__ = ["HISTORY_NAMES", "MODEL_NAMES", "SCAN_FUNCTION", "TABLE_NAMES"]

# The lab's names, from the contract, under the names the checker reads them by.
ARRAY_SPLITS = SPLITS
STATUS_FILE = "export.json"
EXTRA_FOLDER = "extra"  # the names the lab does not define, which checks asked for
# Tensor types converted with numpy.asarray; anything else must be a numpy.ndarray already
# (converting arbitrary objects would run their code, or never end for self-similar ones).
TENSOR_MODULES = ("tensorflow", "keras", "jax", "torch")
MAX_SCAN_VALUES = 100_000
MAX_HISTORY_VALUES = 100_000  # far more than any real training run records

EXPORT_CELL = """\
from mnist_lab.grading.kernel.export import export_for_grading as _mnist_lab_export
_mnist_lab_export(globals(), {out_dir!r}, rows={rows!r}, scans={scans!r}, names={names!r})
del _mnist_lab_export
"""


def export_cell(
    out_dir: Path,
    *,
    rows: dict[str, list[int]],
    scans: list[str],
    names: tuple[str, ...] = (),
) -> str:
    """The code the grader appends to a notebook to export its artefacts to ``out_dir``.

    ``names`` are the other names the checks ask for, beyond the lab's contract.
    """
    return EXPORT_CELL.format(out_dir=str(out_dir), rows=rows, scans=scans, names=list(names))


def export_for_grading(
    namespace: dict,
    out_dir: str,
    *,
    rows: dict[str, list[int]],
    scans: list[str],
    names: list[str] = (),
) -> None:
    """Save the lab's objects found in ``namespace`` to ``out_dir``; runs in the kernel."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    status: dict = {"arrays": {}, "missing": {}, "scan_errors": {}, "kinds": {}}

    def save_status() -> None:  # after each step, so a later failure keeps what was saved
        (out / STATUS_FILE).write_text(json.dumps(status))

    for name, split in ARRAY_SPLITS.items():
        _try(name, namespace, status, lambda v, n=name, s=split: _save_array(v, n, rows[s], out))
    save_status()
    for name in MODEL_NAMES:
        _try(name, namespace, status, lambda v, n=name: _save_model(v, out / f"{n}.keras"))
    for name in HISTORY_NAMES:
        save = lambda v, n=name: _save_json(history_values(v), out / f"{n}.json")  # noqa: E731
        _try(name, namespace, status, save)
    for name in TABLE_NAMES:
        _try(name, namespace, status, lambda v, n=name: _save_json(_table(v), out / f"{n}.json"))
    save_status()
    _try(SCAN_FUNCTION, namespace, status, lambda v: _save_scans(v, scans, out, status))
    save_status()
    for name in names:
        _try(name, namespace, status, lambda v, n=name: _save_value(v, n, out, status))
    save_status()


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


def _try(name: str, namespace: dict, status: dict, save) -> None:
    if name not in namespace:
        status["missing"][name] = "not defined"
        return
    try:
        info = save(namespace[name])
    except Exception as error:
        status["missing"][name] = f"could not be saved: {_error_text(error)}"
        return
    if info is not None:
        status["arrays"][name] = info


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _as_array(value, what: str) -> np.ndarray:
    kind = type(value)  # type() cannot be faked the way isinstance() can
    if issubclass(kind, np.ndarray):
        array = value
    elif kind.__module__.split(".")[0] in TENSOR_MODULES:
        array = np.asarray(value)
    else:
        raise TypeError(f"{what} is a {kind.__module__}.{kind.__qualname__}, not a NumPy array")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{what} holds values of type {array.dtype}, not numbers")
    return array


def _save_array(value, name: str, rows: list[int], out: Path) -> dict:
    array = _as_array(value, name)
    info = {"type": type(value).__qualname__, "shape": list(array.shape), "dtype": str(array.dtype)}
    if array.ndim == 0:
        raise TypeError(f"{name} is a single number, not an array of images or labels")
    picked = [row for row in rows if row < array.shape[0]]
    np.save(out / f"{name}.npy", np.ascontiguousarray(array[picked]), allow_pickle=False)
    np.save(out / f"{name}.rows.npy", np.asarray(picked, dtype=np.int64), allow_pickle=False)
    return info


def _save_model(value, path: Path) -> None:
    keras = sys.modules.get("keras")
    if keras is None or not issubclass(type(value), keras.Model):
        kind = type(value)
        raise TypeError(f"it is a {kind.__module__}.{kind.__qualname__}, not a Keras model")
    value.save(path)


def _table(value) -> dict:
    pandas = sys.modules.get("pandas")
    if pandas is None or not issubclass(type(value), pandas.DataFrame):
        kind = type(value)
        raise TypeError(f"it is a {kind.__module__}.{kind.__qualname__}, not a pandas DataFrame")
    columns = [str(column) for column in value.columns]
    values = {}
    for column, name in zip(value.columns, columns, strict=True):
        numbers = pandas.to_numeric(value[column], errors="coerce").astype(float)
        values[name] = [None if np.isnan(number) else float(number) for number in numbers]
    return {"type": type(value).__qualname__, "rows": len(value), "values": values}


def _save_json(data: dict, path: Path) -> None:
    path.write_text(json.dumps(data))


def _save_value(value, name: str, out: Path, status: dict) -> None:
    """Save a name the lab does not define, by its type, in ``extra/``; refuse other types."""
    out = out / EXTRA_FOLDER
    out.mkdir(exist_ok=True)
    kind = type(value)
    keras, pandas = sys.modules.get("keras"), sys.modules.get("pandas")
    if keras is not None and issubclass(kind, keras.Model):
        _save_model(value, out / f"{name}.keras")
        status["kinds"][name] = "model"
        return
    if keras is not None and issubclass(kind, keras.callbacks.History):
        _save_json(history_values(value), out / f"{name}.json")
        status["kinds"][name] = "history"
        return
    if issubclass(kind, np.ndarray) or kind.__module__.split(".")[0] in TENSOR_MODULES:
        array = _as_array(value, name)
        if array.size > MAX_ARRAY_VALUES:
            raise ValueError(
                f"it holds {array.size:,} values; the grader takes at most {MAX_ARRAY_VALUES:,}"
            )
        np.save(out / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        status["kinds"][name] = "array"
        return
    if pandas is not None and issubclass(kind, pandas.DataFrame):
        _save_json(_table(value), out / f"{name}.json")
        status["kinds"][name] = "table"
        return
    text = json.dumps(_plain(value, name, depth=0))
    if len(text) > MAX_JSON_CHARS:
        raise ValueError(f"it is too large to grade ({len(text):,} characters as JSON)")
    (out / f"{name}.json").write_text(text)
    status["kinds"][name] = "value"


PLAIN_TYPES = (type(None), bool, int, float, str)
MAX_DEPTH = 20


def _plain(value, name: str, *, depth: int):
    """``value`` if it is a number, a string, or a list, tuple or dict of those (exact types)."""
    kind = type(value)
    if kind in PLAIN_TYPES:
        return value
    if issubclass(kind, np.generic) and kind.__module__ == "numpy":
        return value.item()
    if depth < MAX_DEPTH and kind in (list, tuple):
        return [_plain(item, name, depth=depth + 1) for item in value]
    if depth < MAX_DEPTH and kind is dict and all(type(key) is str for key in value):
        return {key: _plain(item, name, depth=depth + 1) for key, item in value.items()}
    raise TypeError(
        f"{'it' if depth == 0 else 'it holds'} a {kind.__module__}.{kind.__qualname__}; the "
        "grader takes arrays, Keras models, histories, DataFrames, numbers, strings, and "
        "lists and dicts (with string keys) of those"
    )


def _save_scans(function, scans: list[str], out: Path, status: dict) -> None:
    if not callable(function):
        raise TypeError(f"it is a {type(function).__qualname__}, not a function")
    folder = out / "scans"
    folder.mkdir(exist_ok=True)
    for index, path in enumerate(scans):
        try:
            array = _as_array(function(path), f"{SCAN_FUNCTION}({Path(path).name!r})")
            if array.size > MAX_SCAN_VALUES:
                raise ValueError(f"it returned {array.size} values; expected 784 (28 x 28)")
            np.save(folder / f"{index}.npy", array, allow_pickle=False)
        except (Exception, SystemExit) as error:
            status["scan_errors"][str(index)] = _error_text(error)
