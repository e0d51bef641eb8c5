"""Synthetic report content for the report tests: no training, no real MNIST, fixed seeds.

`make_content` builds a `ReportContent` whose numbers are known (lab model B of LAB.md:
173,738 parameters, test accuracy 0.9816) from random images and labels, with the reference
solution notebook's own write-up, answers and code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import nbformat
import numpy as np
import pytest
from PIL import Image, ImageDraw
from sklearn.metrics import classification_report, confusion_matrix

from mnist_lab.assignment import TEMPLATE_NOTEBOOK
from mnist_lab.notebook.record import LabRecord, given_code, read_record
from mnist_lab.paths import SOLUTION_NOTEBOOK
from mnist_lab.report.content import LayerInfo, ModelResult, ReportContent, ScanPrediction

SEED = 1234
TEST_IMAGES = 500
ERROR_RATE = 0.05
STUDENT_NAME = "Jane Doe"
REGISTER_NUMBER = "212223240001"

LAB_MODEL_LAYERS = (
    LayerInfo("input", "InputLayer", "input 28x28x1", (None, 28, 28, 1), 0),
    LayerInfo("conv2d", "Conv2D", "32 filters 3x3, relu", (None, 26, 26, 32), 320),
    LayerInfo("max_pooling2d", "MaxPooling2D", "pool 2x2", (None, 13, 13, 32), 0),
    LayerInfo("flatten", "Flatten", "5408 values", (None, 5408), 0),
    LayerInfo("dense", "Dense", "32 units, relu", (None, 32), 173_088),
    LayerInfo("dense_1", "Dense", "10 units, softmax", (None, 10), 330),
)
MLP_LAYERS = (
    LayerInfo("input", "InputLayer", "input 28x28", (None, 28, 28), 0),
    LayerInfo("flatten", "Flatten", "784 values", (None, 784), 0),
    LayerInfo("dense", "Dense", "300 units, relu", (None, 300), 235_500),
    LayerInfo("dense_1", "Dense", "10 units, softmax", (None, 10), 3_010),
)


def make_history(epochs: int = 5, seed: int = SEED) -> dict[str, list[float]]:
    """A plausible Keras History.history: accuracy rising, loss falling, with noise."""
    rng = np.random.default_rng(seed)
    steps = np.arange(1, epochs + 1)
    accuracy = 1 - 0.1 / steps - rng.uniform(0, 0.01, epochs)
    val_accuracy = 1 - 0.05 / steps - rng.uniform(0, 0.01, epochs)
    return {
        "accuracy": accuracy.tolist(),
        "val_accuracy": val_accuracy.tolist(),
        "loss": (0.3 / steps + rng.uniform(0, 0.02, epochs)).tolist(),
        "val_loss": (0.15 / steps + rng.uniform(0, 0.02, epochs)).tolist(),
    }


def write_scan_images(folder: Path) -> list[Path]:
    """Three "scanned digits" in different modes: a colour photo, a grayscale and an RGBA PNG."""
    folder.mkdir(parents=True, exist_ok=True)
    photo = Image.new("RGB", (120, 90), (225, 220, 205))
    ImageDraw.Draw(photo).ellipse((40, 15, 80, 75), outline=(20, 30, 140), width=5)
    gray = Image.new("L", (64, 64), 255)
    ImageDraw.Draw(gray).line((32, 8, 32, 56), fill=0, width=6)
    rgba = Image.new("RGBA", (50, 70), (255, 255, 255, 0))
    ImageDraw.Draw(rgba).line((10, 10, 40, 10, 15, 60), fill=(0, 0, 0, 255), width=5)
    paths = [folder / "0_photo.jpg", folder / "1_gray.png", folder / "7_rgba.png"]
    for image, path in zip((photo, gray, rgba), paths, strict=True):
        image.save(path)
    return paths


def make_scans(folder: Path, seed: int = SEED) -> tuple[ScanPrediction, ...]:
    """One right, one wrong and one unlabelled scan."""
    rng = np.random.default_rng(seed)
    paths = write_scan_images(folder)
    outcomes = [(0, 0), (1, 7), (None, 7)]  # (label, predicted)
    return tuple(
        ScanPrediction(
            path=path,
            label=label,
            view=rng.random((28, 28)),
            predicted=predicted,
            confidence=float(rng.uniform(0.5, 1.0)),
        )
        for path, (label, predicted) in zip(paths, outcomes, strict=True)
    )


def _model_result(title: str, layers: tuple[LayerInfo, ...], accuracy: float) -> ModelResult:
    return ModelResult(
        title=title,
        layers=layers,
        param_count=sum(layer.params for layer in layers),
        history=make_history(),
        test_accuracy=accuracy,
        test_loss=0.0612,
        training_seconds=35.2,
    )


def build_content(folder: Path, *, seed: int = SEED, **overrides) -> ReportContent:
    """ReportContent with random test images and labels, ERROR_RATE of them mispredicted."""
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 10, TEST_IMAGES)
    y_pred = y_true.copy()
    wrong = rng.random(TEST_IMAGES) < ERROR_RATE
    y_pred[wrong] = (y_true[wrong] + rng.integers(1, 10, int(wrong.sum()))) % 10
    content = ReportContent(
        student_name=STUDENT_NAME,
        register_number=REGISTER_NUMBER,
        notebook=Path("solution/lab.ipynb"),
        model=_model_result("Lab model", LAB_MODEL_LAYERS, 0.9816),
        y_true=y_true,
        y_pred=y_pred,
        x_test=rng.integers(0, 256, (TEST_IMAGES, 28, 28), dtype=np.uint8),
        confusion=confusion_matrix(y_true, y_pred, labels=list(range(10))),
        classification_report=classification_report(y_true, y_pred, output_dict=True),
        scans=make_scans(folder / "scans", seed),
        improved=_model_result("Improved model", LAB_MODEL_LAYERS, 0.9927),
        record=solution_record(),
    )
    return dataclasses.replace(content, **overrides)


def solution_record() -> LabRecord:
    """The reference solution's own write-up and code, as the report takes them."""
    template = nbformat.read(TEMPLATE_NOTEBOOK, as_version=4)
    return read_record(nbformat.read(SOLUTION_NOTEBOOK, as_version=4), given_code(template))


@pytest.fixture
def make_content(tmp_path: Path) -> Callable[..., ReportContent]:
    """A factory: make_content(**field_overrides) -> ReportContent, files under tmp_path."""
    return lambda **overrides: build_content(tmp_path, **overrides)


@pytest.fixture
def lab_layers() -> tuple[LayerInfo, ...]:
    """Lab model B of LAB.md, 173,738 parameters."""
    return LAB_MODEL_LAYERS


@pytest.fixture
def mlp_layers() -> tuple[LayerInfo, ...]:
    """Write-up D of LAB.md: a multilayer perceptron with no convolution."""
    return MLP_LAYERS


@pytest.fixture
def history() -> dict[str, list[float]]:
    return make_history()


@pytest.fixture
def scans(tmp_path: Path) -> tuple[ScanPrediction, ...]:
    return make_scans(tmp_path / "scans")


@pytest.fixture(scope="session")
def written_report(tmp_path_factory: pytest.TempPathFactory):
    """One full report (improved model and scans included), written once per test session:
    (content, out_dir, write_report's result)."""
    from mnist_lab.report.document import write_report

    folder = tmp_path_factory.mktemp("report")
    content = build_content(folder)
    out_dir = folder / "out"
    return content, out_dir, write_report(content, out_dir)
