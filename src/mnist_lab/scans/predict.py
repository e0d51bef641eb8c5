"""Predict the digit in scanned or photographed images with a trained MNIST model.

`predict_images` preprocesses each image (`to_mnist` by default, or one of the write-ups'
naive steps for comparison), predicts them all in one batch, and returns one frozen
`ImagePrediction` per image, in order. An image that cannot be read or holds no ink gets a
prediction whose ``error`` says why and how to fix it; the others are still predicted.
Predictions below `LOW_CONFIDENCE` are flagged: the model is guessing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from mnist_lab.contract import NUM_CLASSES
from mnist_lab.errors import LabError
from mnist_lab.paths import DEFAULT_REPORT_DIR
from mnist_lab.scans.preprocess import FRAME_SIZE, ScanError, naive_preprocess, to_mnist

logger = logging.getLogger(__name__)

# A prediction whose top probability is below this is flagged LOW CONFIDENCE.
LOW_CONFIDENCE = 0.6
TOP_K = 3
# Saved views are the 28x28 view scaled up this many times (nearest neighbour), 280x280.
VIEW_SCALE = 10
# The models `mnist-lab run` writes, most preferred first.
MODEL_NAMES = ("improved_model.keras", "model.keras")
# Softmax rows must sum to 1 within this tolerance.
PROBABILITY_TOLERANCE = 1e-3


def _naive(image_or_path) -> np.ndarray:
    return naive_preprocess(image_or_path)[0, :, :, 0]


def _naive_inverted(image_or_path) -> np.ndarray:
    return naive_preprocess(image_or_path, invert=True)[0, :, :, 0]


# Each preprocessing turns an image path into a 28x28 float32 view in [0, 1].
PREPROCESSING: dict[str, Callable[[Path], np.ndarray]] = {
    "to_mnist": to_mnist,
    "naive": _naive,
    "naive-inverted": _naive_inverted,
}


@dataclass(frozen=True)
class ImagePrediction:
    """What the model made of one image; ``error`` is set (and nothing else) when it could not."""

    path: Path
    digit: int | None = None
    confidence: float | None = None
    top3: tuple[tuple[int, float], ...] = ()
    view: np.ndarray | None = field(default=None, repr=False, compare=False)
    error: str | None = None

    @property
    def predicted(self) -> bool:
        return self.error is None

    @property
    def low_confidence(self) -> bool:
        """Predicted, but with a top probability below `LOW_CONFIDENCE`."""
        return self.predicted and self.confidence < LOW_CONFIDENCE

    def to_dict(self) -> dict:
        """The prediction as JSON-ready values (the view left out)."""
        return {
            "path": str(self.path),
            "digit": self.digit,
            "confidence": None if self.confidence is None else round(self.confidence, 6),
            "top3": [{"digit": d, "probability": round(p, 6)} for d, p in self.top3],
            "low_confidence": self.low_confidence,
            "error": self.error,
        }


def find_model(
    model: str | os.PathLike | None = None, *, report_dir: str | os.PathLike = DEFAULT_REPORT_DIR
) -> Path:
    """The model file to use: ``model`` if given, else the improved model, else the lab model.

    Raises `LabError` when the file is missing or none of `MODEL_NAMES` is in ``report_dir``.
    """
    if model is not None:
        path = Path(model).expanduser()
        if not path.is_file():
            raise LabError(
                f"No model file at {path}. Pass the .keras file that `mnist-lab run` wrote "
                f"(e.g. {Path(report_dir) / MODEL_NAMES[-1]})."
            )
        return path
    candidates = [Path(report_dir) / name for name in MODEL_NAMES]
    for path in candidates:
        if path.is_file():
            return path
    looked = " or ".join(str(path) for path in candidates)
    raise LabError(
        f"No trained model found (looked for {looked}): run `mnist-lab run` first or pass "
        "--model PATH."
    )


def predict_images(
    paths: Iterable[str | os.PathLike], *, model, preprocessing: str = "to_mnist"
) -> list[ImagePrediction]:
    """One prediction per image, in order; unreadable images get an ``error`` instead.

    ``model`` is a Keras model (anything with ``input_shape`` and ``predict``) taking 28x28
    inputs and ending in a 10-way softmax; ``preprocessing`` is a key of `PREPROCESSING`.
    Raises `LabError` when the model does not fit that description.
    """
    if preprocessing not in PREPROCESSING:
        raise ValueError(
            f"Unknown preprocessing {preprocessing!r}; expected one of {', '.join(PREPROCESSING)}."
        )
    prepare = PREPROCESSING[preprocessing]
    paths = [Path(path) for path in paths]
    views: dict[int, np.ndarray] = {}
    errors: dict[int, str] = {}
    for index, path in enumerate(paths):
        try:
            views[index] = np.asarray(prepare(path), dtype=np.float32)
        except ScanError as error:
            errors[index] = str(error)
            logger.debug("%s: %s", path, error)
    probabilities = _predict(model, list(views.values()))
    rows = dict(zip(views, probabilities, strict=True))
    return [
        ImagePrediction(path=path, error=errors[index])
        if index in errors
        else _prediction(path, views[index], rows[index])
        for index, path in enumerate(paths)
    ]


def save_view(view: np.ndarray, path: str | os.PathLike, *, scale: int = VIEW_SCALE) -> Path:
    """Save a 28x28 view as a grey PNG, scaled up ``scale`` times (nearest) so it can be seen."""
    path = Path(path)
    pixels = (np.clip(view, 0.0, 1.0) * 255).round().astype(np.uint8)
    image = Image.fromarray(pixels, mode="L")
    size = (pixels.shape[1] * scale, pixels.shape[0] * scale)
    image.resize(size, Image.Resampling.NEAREST).save(path)
    return path


def save_views(predictions: Iterable[ImagePrediction], directory: str | os.PathLike) -> list[Path]:
    """Save each predicted image's view as ``directory/<image name>.png`` (numbered if taken)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    taken: set[str] = set()
    for prediction in predictions:
        if prediction.view is None:
            continue
        name, number = f"{prediction.path.stem}.png", 1
        while name in taken:
            number += 1
            name = f"{prediction.path.stem}_{number}.png"
        taken.add(name)
        saved.append(save_view(prediction.view, directory / name))
    return saved


def _predict(model, views: list[np.ndarray]) -> np.ndarray:
    """Class probabilities for the views, shape (len(views), 10); checks the model's shapes."""
    shape = tuple(model.input_shape[1:])
    if int(np.prod(shape)) != FRAME_SIZE * FRAME_SIZE:
        raise LabError(
            f"The model takes inputs of shape {shape}; expected 28x28 images, e.g. (28, 28, 1). "
            "Start the model with keras.Input(shape=(28, 28, 1))."
        )
    if not views:
        return np.zeros((0, NUM_CLASSES), dtype=np.float32)
    batch = np.stack(views).reshape((-1, *shape))
    probabilities = np.asarray(model.predict(batch, verbose=0), dtype=np.float64)
    if probabilities.shape != (len(views), NUM_CLASSES):
        raise LabError(
            f"The model's output has shape {probabilities.shape[1:]} per image; expected (10,), "
            "one probability per digit. End the model with Dense(10, activation='softmax')."
        )
    sums = probabilities.sum(axis=1)
    if probabilities.min() < 0 or not np.allclose(sums, 1.0, atol=PROBABILITY_TOLERANCE):
        raise LabError(
            "The model's outputs are not probabilities (each row should be 0-1 and sum to 1; "
            f"the first sums to {sums[0]:.3f}). End the model with "
            "Dense(10, activation='softmax')."
        )
    return probabilities


def _prediction(path: Path, view: np.ndarray, probabilities: np.ndarray) -> ImagePrediction:
    order = np.argsort(-probabilities, kind="stable")[:TOP_K]  # ties: the lower digit first
    top = tuple((int(digit), float(probabilities[digit])) for digit in order)
    return ImagePrediction(
        path=path, digit=top[0][0], confidence=top[0][1], top3=top, view=view, error=None
    )
