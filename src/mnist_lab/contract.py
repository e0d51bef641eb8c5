"""The lab's contract: which objects a lab notebook defines, and how each leaves its kernel.

One table for everything that reads a notebook's objects: the grader's export cell (in the
student's kernel), the checker (which loads them back), the in-notebook checks and the report.
Each name the lab asks for has a kind, and the kind says how it is exported and loaded:

- ``array``: a NumPy array (or a tensor), exported as the rows the grader picked at random,
  with its full shape and dtype; loaded as an `ExportedArray`. ``SPLITS`` says which split
  each array belongs to.
- ``model``: a Keras model, saved in the native ``.keras`` format; loaded in safe mode (no
  code from the file runs) as a `SavedModel`.
- ``history``: what ``model.fit`` returns; exported as its ``.history`` dict of number lists.
- ``table``: a pandas DataFrame; exported as columns of numbers; loaded as a `Table`.
- ``scan_function``: ``preprocess_scan``; exported as what it returns for each supplied scan.

A check may also ask for any other top-level name of the notebook (an instructor's check on a
variable the lab does not name): such a value is exported by its type (`value_kind`), and a
type the grader does not carry (a function, an open file, an object of the student's own
class) is refused, by type, with the reason.
"""

from __future__ import annotations

from pathlib import Path

NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28)
SPLIT_SIZES = {"train": 60_000, "test": 10_000}
INPUT_SHAPE = (*IMAGE_SHAPE, 1)

# The arrays the lab names, and the split each belongs to.
SPLITS = {
    "x_train": "train",
    "y_train": "train",
    "x_test": "test",
    "y_test": "test",
    "x_train_scaled": "train",
    "x_test_scaled": "test",
    "y_train_onehot": "train",
    "y_test_onehot": "test",
    "x_train_reshaped": "train",
    "x_test_reshaped": "test",
}
MODEL_NAMES = ("model", "improved_model")
HISTORY_NAMES = ("history", "improved_history")
TABLE_NAMES = ("metrics",)
SCAN_FUNCTION = "preprocess_scan"

KINDS: dict[str, str] = {
    **dict.fromkeys(SPLITS, "array"),
    **dict.fromkeys(MODEL_NAMES, "model"),
    **dict.fromkeys(HISTORY_NAMES, "history"),
    **dict.fromkeys(TABLE_NAMES, "table"),
    SCAN_FUNCTION: "scan_function",
}
LAB_NAMES = tuple(KINDS)

# What the grader provides to the checks itself, never read from the notebook.
GRADER_FIXTURES = ("mnist", "thresholds", "notebook", "scan_outputs", "exported", "feedback")
# The fixture through which a check asks for what preprocess_scan made of the supplied scans.
SCAN_OUTPUTS = "scan_outputs"

# Caps on what a value of another name may hold when it is exported whole.
MAX_ARRAY_VALUES = 10_000_000
MAX_JSON_CHARS = 10_000_000


def kind_of(name: str) -> str | None:
    """The contract's kind for ``name``, or None for a name the lab does not define."""
    return KINDS.get(name)


def notebook_name(fixture: str) -> str:
    """The notebook name behind a check's fixture (``scan_outputs`` comes from preprocess_scan)."""
    return SCAN_FUNCTION if fixture == SCAN_OUTPUTS else fixture


def fixture_name(name: str) -> str:
    """The fixture through which checks receive the notebook's ``name``."""
    return SCAN_OUTPUTS if name == SCAN_FUNCTION else name


def load_model_safely(path: Path):
    """Load a ``.keras`` file as the grader and the report do: in Keras safe mode (no code from
    the file runs), uncompiled. Raises what Keras raises for a file it cannot rebuild."""
    import keras

    return keras.saving.load_model(path, safe_mode=True, compile=False)
