"""Turn what a notebook run exported into the lab report's content and files.

Every figure is computed here, in the kit's process: the exported model is loaded in Keras
safe mode and evaluated on the verified MNIST test set, whatever the notebook printed.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import classification_report, confusion_matrix

from mnist_lab import __version__, contract
from mnist_lab.contract import NUM_CLASSES
from mnist_lab.data import load_mnist
from mnist_lab.errors import LabError
from mnist_lab.notebook.execute import ExecutedNotebook, is_extra_cell, read_notebook
from mnist_lab.notebook.inspect import student_identity, training_seconds
from mnist_lab.notebook.record import given_code, read_record
from mnist_lab.paths import sample_images_dir
from mnist_lab.report.artefacts import Artefacts
from mnist_lab.report.content import CellError, ModelResult, ReportContent, ScanPrediction
from mnist_lab.report.layers import describe_model

logger = logging.getLogger(__name__)

MODEL_TITLES = {"model": "Lab model", "improved_model": "Improved model"}
HISTORY_OF = {"model": "history", "improved_model": "improved_history"}


class MissingForReport(LabError):
    """The notebook ran but did not make what a report needs (its trained model, its history)."""


def load_model_safely(path: Path):
    """Load a ``.keras`` file in safe mode (`contract.load_model_safely`), or say why not."""
    try:
        return contract.load_model_safely(path)
    except Exception as error:
        raise LabError(
            f"The saved model {path.name} could not be loaded safely ({type(error).__name__}: "
            f"{error}). Build the model from standard Keras layers (no Lambda layers or custom "
            f"code)."
        ) from error


def model_inputs(model, images: np.ndarray) -> np.ndarray:
    """The test images scaled to [0, 1] and shaped as the model's input wants."""
    shape = tuple(model.input_shape[1:])
    if int(np.prod(shape)) != 28 * 28:
        raise LabError(
            f"The model takes inputs of shape {shape}; expected 28x28 images, e.g. (28, 28, 1). "
            f"Start the model with keras.Input(shape=(28, 28, 1))."
        )
    return (images.astype("float32") / 255.0).reshape((-1, *shape))


def cross_entropy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    picked = probabilities[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0))))


def evaluate(model, x_test: np.ndarray, y_test: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Class probabilities, accuracy and categorical cross-entropy on the test set."""
    probabilities = np.asarray(
        model.predict(model_inputs(model, x_test), verbose=0, batch_size=500)
    )
    if probabilities.shape != (len(x_test), NUM_CLASSES):
        raise LabError(
            f"The model's output has shape {probabilities.shape[1:]} per image; expected (10,), "
            f"one probability per digit. End the model with Dense(10, activation='softmax')."
        )
    accuracy = float(np.mean(probabilities.argmax(axis=1) == y_test))
    return probabilities, accuracy, cross_entropy(probabilities, y_test)


def _model_result(name: str, model, executed: ExecutedNotebook, artefacts: Artefacts, test):
    x_test, y_test = test
    probabilities, accuracy, loss = evaluate(model, x_test, y_test)
    layers = describe_model(model)
    result = ModelResult(
        title=MODEL_TITLES[name],
        layers=layers,
        param_count=int(model.count_params()),
        history=artefacts.histories.get(HISTORY_OF[name], {}),
        test_accuracy=accuracy,
        test_loss=loss,
        training_seconds=training_seconds(executed.notebook, HISTORY_OF[name]),
    )
    logger.info("%s: test accuracy %.4f, loss %.4f", result.title, accuracy, loss)
    return result, probabilities


def _scan_predictions(
    model, artefacts: Artefacts, samples_dir: Path | None
) -> tuple[ScanPrediction, ...]:
    if not artefacts.scan_views:
        return ()
    from mnist_lab.scans import read_manifest

    samples = {s.path.name: s for s in read_manifest(samples_dir or sample_images_dir())}
    names = [name for name in artefacts.scan_views if name in samples]
    if not names:
        return ()
    views = np.stack([np.clip(artefacts.scan_views[name], 0.0, 1.0) for name in names])
    shape = tuple(model.input_shape[1:])
    probabilities = np.asarray(model.predict(views.reshape((-1, *shape)), verbose=0))
    return tuple(
        ScanPrediction(
            path=samples[name].path,
            label=samples[name].label,
            view=views[i],
            predicted=int(probabilities[i].argmax()),
            confidence=float(probabilities[i].max()),
        )
        for i, name in enumerate(names)
    )


def _given_code() -> frozenset[str]:
    """The code the lab's template gives (its cells that are not the student's to write)."""
    from mnist_lab.assignment import TEMPLATE_NOTEBOOK

    try:
        return given_code(read_notebook(TEMPLATE_NOTEBOOK))
    except LabError:  # a kit without its template: every cell counts as the student's
        logger.warning("The lab's template %s could not be read.", TEMPLATE_NOTEBOOK.name)
        return frozenset()


def build_content(
    executed: ExecutedNotebook,
    artefacts: Artefacts,
    *,
    mnist_path: Path | None = None,
    samples_dir: Path | None = None,
) -> ReportContent:
    """Evaluate the exported models and gather everything the report shows.

    MNIST comes from ``mnist_path`` (default: as `load_mnist` finds it) and the scans' labels
    from ``samples_dir``'s manifest (default: the kit's sample_images/).
    """
    if "model" not in artefacts.models:
        reason = artefacts.missing.get("model", "not defined")
        raise MissingForReport(
            f"The notebook ran, but its trained model could not be exported: `model` {reason}. "
            f"Build, compile and train the lab model under the name `model`."
        )
    if "history" not in artefacts.histories:
        raise MissingForReport(
            "The notebook ran, but it has no training history: assign the result of "
            "model.fit(...) to `history`."
        )
    (_, _), (x_test, y_test) = load_mnist(mnist_path)
    model = load_model_safely(artefacts.models["model"])
    result, probabilities = _model_result("model", model, executed, artefacts, (x_test, y_test))
    y_pred = probabilities.argmax(axis=1)
    improved = None
    if "improved_model" in artefacts.models:
        improved_model = load_model_safely(artefacts.models["improved_model"])
        improved, _ = _model_result(
            "improved_model", improved_model, executed, artefacts, (x_test, y_test)
        )
    identity = student_identity(executed.notebook)
    return ReportContent(
        student_name=identity["name"],
        register_number=identity["register_number"],
        notebook=executed.path,
        model=result,
        y_true=y_test.astype(int),
        y_pred=y_pred.astype(int),
        x_test=x_test,
        confusion=confusion_matrix(y_test, y_pred, labels=list(range(NUM_CLASSES))),
        classification_report=classification_report(
            y_test, y_pred, digits=4, output_dict=True, zero_division=0
        ),
        scans=_scan_predictions(model, artefacts, samples_dir),
        improved=improved,
        record=read_record(executed.notebook, _given_code()),
        cell_errors=cell_errors(executed),
    )


def cell_errors(executed: ExecutedNotebook) -> tuple[CellError, ...]:
    """The notebook's own cells that raised, timed out or were skipped in ``executed``
    (the grader's export cell, run after them, is not the notebook's)."""
    cells = executed.notebook.cells
    own = len(cells) - (1 if cells and is_extra_cell(cells[-1]) else 0)
    failures = [*executed.errors]
    if executed.failure is not None and executed.failure not in failures:
        failures.append(executed.failure)
    seen, errors = set(), []
    for failure in sorted(failures, key=lambda f: f.cell_index):
        if failure.cell_index < own and failure.cell_index not in seen:
            seen.add(failure.cell_index)
            errors.append(
                CellError(failure.cell_index + 1, failure.where(), failure.message, failure.kind)
            )
    return tuple(errors)


def _model_summary(result: ModelResult) -> dict:
    return {
        "test_accuracy": round(result.test_accuracy, 6),
        "test_loss": round(result.test_loss, 6),
        "epochs": len(result.history.get("loss", [])),
        "parameter_count": result.param_count,
        "training_seconds": (
            None if result.training_seconds is None else round(result.training_seconds, 2)
        ),
    }


def summary(content: ReportContent, executed: ExecutedNotebook) -> dict:
    """The headline figures, as written to ``summary.json``."""
    right = sum(1 for scan in content.scans if scan.correct)
    data = {
        "student_name": content.student_name,
        "register_number": content.register_number,
        "notebook": content.notebook.name,
        **_model_summary(content.model),
        "scanned_digits": {"correct": right, "total": len(content.scans)},
        "notebook_seconds": round(executed.seconds, 2),
        "kit_version": __version__,
        "cell_errors": [
            {"cell": error.number, "where": error.where, "message": error.message}
            for error in content.cell_errors
        ],
    }
    if content.improved is not None:
        data["improved_model"] = _model_summary(content.improved)
    return data


def write_outputs(
    content: ReportContent, executed: ExecutedNotebook, artefacts: Artefacts, out_dir: Path
) -> dict:
    """Write the report, tables, model and summary into ``out_dir``; return the summary."""
    from mnist_lab.report.document import write_report

    write_report(content, out_dir)
    metrics = pd.DataFrame(content.model.history)
    metrics.index = pd.RangeIndex(1, len(metrics) + 1, name="epoch")
    metrics.to_csv(out_dir / "metrics.csv")
    shutil.copy(artefacts.models["model"], out_dir / "model.keras")
    if "improved_model" in artefacts.models:
        shutil.copy(artefacts.models["improved_model"], out_dir / "improved_model.keras")
    data = summary(content, executed)
    (out_dir / "summary.json").write_text(json.dumps(data, indent=2) + "\n")
    return data
