"""What a lab report contains: plain data, computed by the kit, drawn by `figures` and
written by `document`.

Everything here is computed in the kit's own process from the artefacts a notebook run
exported (the saved model is re-evaluated on the verified MNIST test set), never copied
from the notebook's printed output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mnist_lab.notebook.record import LabRecord


@dataclass(frozen=True)
class LayerInfo:
    """One layer of a model, as the diagram and the summary table show it."""

    name: str
    kind: str  # the layer class, e.g. "Conv2D"
    detail: str  # e.g. "32 filters 3x3, relu"
    output_shape: tuple[int | None, ...]
    params: int


@dataclass(frozen=True)
class ModelResult:
    """A trained model and its figures on the MNIST test set."""

    title: str  # "Lab model" or "Improved model"
    layers: tuple[LayerInfo, ...]
    param_count: int
    history: dict[str, list[float]]  # keys: accuracy, loss, val_accuracy, val_loss
    test_accuracy: float
    test_loss: float
    training_seconds: float | None


@dataclass(frozen=True)
class ScanPrediction:
    """One scanned digit: the file, the 28x28 view the model saw, and what it said."""

    path: Path
    label: int | None
    view: np.ndarray  # (28, 28) float in [0, 1], white digit on black
    predicted: int
    confidence: float  # probability of the predicted class

    @property
    def correct(self) -> bool | None:
        return None if self.label is None else self.predicted == self.label


@dataclass(frozen=True)
class CellError:
    """A cell of the notebook that stopped with an error in the run the report comes from."""

    number: int  # the cell's place in the notebook, from 1, counting every cell
    where: str  # "cell 12 (Step 8: ...)"
    message: str  # "NameError: name 'modle' is not defined"
    kind: str = "error"  # "error", "timeout", or "skipped" (not run: no time left, say)


@dataclass(frozen=True)
class ReportContent:
    """Everything `document.write_report` needs."""

    student_name: str
    register_number: str
    notebook: Path
    model: ModelResult
    y_true: np.ndarray  # (10000,) int test labels
    y_pred: np.ndarray  # (10000,) int predicted test labels
    x_test: np.ndarray  # (10000, 28, 28) uint8 test images, for the prediction grid
    confusion: np.ndarray  # (10, 10) int, rows true, columns predicted
    classification_report: dict  # sklearn classification_report(..., output_dict=True)
    scans: tuple[ScanPrediction, ...] = ()
    improved: ModelResult | None = None
    figures: dict[str, Path] = field(default_factory=dict)  # name -> PNG, filled when drawn
    record: LabRecord = field(default_factory=LabRecord)  # the notebook's own write-up and code
    cell_errors: tuple[CellError, ...] = ()  # the notebook's cells that raised or timed out
