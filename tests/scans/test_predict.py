"""`predict_images`: one prediction per image, errors per image, low confidence flagged.

Most tests use `FixedModel`, a stand-in whose probabilities are given, so that digits,
confidences and flags are known exactly; one test runs a tiny untrained Keras model
(seeded) end to end.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_lab.errors import LabError
from mnist_lab.scans.predict import (
    LOW_CONFIDENCE,
    MODEL_NAMES,
    VIEW_SCALE,
    ImagePrediction,
    find_model,
    predict_images,
    save_view,
    save_views,
)
from mnist_lab.scans.preprocess import naive_preprocess, prepare_for_model, to_mnist
from tests.scans.test_preprocess import _png_claiming, draw_digit

SEED = 1234
# A confident prediction of 7 and an unsure one of 3 (top probability below LOW_CONFIDENCE).
SURE_SEVEN = (0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.91, 0.01, 0.01)
UNSURE_THREE = (0.02, 0.02, 0.02, 0.45, 0.02, 0.02, 0.02, 0.03, 0.30, 0.10)


class FixedModel:
    """A stand-in for a Keras model: the same probabilities for every image it is given."""

    def __init__(self, probabilities=SURE_SEVEN, *, input_shape=(None, 28, 28, 1)) -> None:
        self.probabilities = np.asarray(probabilities, dtype=np.float32)
        self.input_shape = input_shape
        self.batches: list[np.ndarray] = []

    def predict(self, batch: np.ndarray, verbose: int = 0) -> np.ndarray:
        self.batches.append(batch)
        return np.tile(self.probabilities, (len(batch), 1))


def save_digit(path: Path, shape: str = "seven") -> Path:
    """A clear dark-on-light drawing of a digit, saved at ``path``."""
    draw_digit(shape).save(path)
    return path


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _blank_page(path: Path) -> Path:
    Image.new("L", (200, 160), 235).save(path)
    return path


def _tiny(path: Path) -> Path:
    Image.new("L", (6, 6), 255).save(path)
    return path


def _no_ink(path: Path) -> Path:
    """Paper with sensor noise and shading but nothing written on it."""
    rng = np.random.default_rng(SEED)
    paper = (230.0 + rng.normal(0, 3, (200, 160))) * np.linspace(1.0, 0.7, 160)[None, :]
    Image.fromarray(paper.clip(0, 255).astype(np.uint8)).save(path)
    return path


# The bad inputs a user hands in, each with what the per-image error must say.
BAD_INPUTS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "not-an-image": (
        lambda tmp: _write(tmp / "notes.png", b"my notes, not a picture\n"),
        "is not an image",
    ),
    "empty-file": (lambda tmp: _write(tmp / "empty.jpg", b""), "is empty"),
    "missing-file": (lambda tmp: tmp / "missing.png", "No file at"),
    "blank-page": (lambda tmp: _blank_page(tmp / "blank.png"), "No ink found"),
    "page-with-no-ink": (lambda tmp: _no_ink(tmp / "no_ink.png"), "No ink found"),
    "tiny-image": (lambda tmp: _tiny(tmp / "tiny.png"), "only 6x6 pixels"),
    "decompression-bomb": (
        lambda tmp: _write(tmp / "bomb.png", _png_claiming(60000, 60000)),
        "too many pixels",
    ),
    "huge-image": (
        lambda tmp: _write(tmp / "huge.png", _png_claiming(9000, 9000)),
        "expected at most",
    ),
}


@pytest.mark.parametrize(("make_bad", "message"), BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_a_bad_image_gets_an_error_and_the_batch_goes_on(make_bad, message, tmp_path):
    before = save_digit(tmp_path / "before.png")
    bad = make_bad(tmp_path)
    after = save_digit(tmp_path / "after.png", "four")
    model = FixedModel()
    predictions = predict_images([before, bad, after], model=model)
    assert [p.path for p in predictions] == [before, bad, after]
    assert [p.predicted for p in predictions] == [True, False, True]
    failed = predictions[1]
    assert message in failed.error
    assert (failed.digit, failed.confidence, failed.top3, failed.view) == (None, None, (), None)
    assert not failed.low_confidence
    assert len(model.batches) == 1 and len(model.batches[0]) == 2, "one batch, good images only"


def test_all_bad_inputs_in_one_batch(tmp_path):
    bad = [make_bad(tmp_path) for make_bad, _ in BAD_INPUTS.values()]
    good = save_digit(tmp_path / "good.png")
    predictions = predict_images([*bad, good], model=FixedModel())
    assert sum(p.predicted for p in predictions) == 1
    assert predictions[-1].digit == 7


@pytest.mark.parametrize(
    ("probabilities", "digit", "confidence", "low", "top3_digits"),
    [
        pytest.param(SURE_SEVEN, 7, 0.91, False, (7, 0, 1), id="sure"),
        pytest.param(UNSURE_THREE, 3, 0.45, True, (3, 8, 9), id="unsure"),
        pytest.param(
            [0.0] * 5 + [LOW_CONFIDENCE, 1 - LOW_CONFIDENCE] + [0.0] * 3,
            5,
            LOW_CONFIDENCE,
            False,
            (5, 6, 0),
            id="at-the-threshold",
        ),
        pytest.param([0.1] * 10, 0, 0.1, True, (0, 1, 2), id="uniform-guess-ties-lowest-first"),
    ],
)
def test_digit_confidence_top3_and_low_confidence_flag(
    probabilities, digit, confidence, low, top3_digits, tmp_path
):
    [prediction] = predict_images([save_digit(tmp_path / "d.png")], model=FixedModel(probabilities))
    assert prediction.confidence == pytest.approx(confidence, abs=1e-6)
    assert prediction.low_confidence is low
    assert len(prediction.top3) == 3
    assert prediction.top3[0] == (prediction.digit, prediction.confidence)
    assert prediction.digit == digit
    assert tuple(d for d, _ in prediction.top3) == top3_digits


@pytest.mark.parametrize(
    ("preprocessing", "expected"),
    [
        pytest.param("to_mnist", lambda path: to_mnist(path), id="to_mnist"),
        pytest.param("naive", lambda path: naive_preprocess(path)[0, :, :, 0], id="naive"),
        pytest.param(
            "naive-inverted",
            lambda path: naive_preprocess(path, invert=True)[0, :, :, 0],
            id="naive-inverted",
        ),
    ],
)
def test_the_view_is_what_the_model_saw(preprocessing, expected, tmp_path):
    path = save_digit(tmp_path / "d.png")
    model = FixedModel()
    [prediction] = predict_images([path], model=model, preprocessing=preprocessing)
    np.testing.assert_array_equal(prediction.view, expected(path))
    np.testing.assert_array_equal(model.batches[0][0, :, :, 0], prediction.view)


def test_the_view_is_reshaped_to_the_models_input(tmp_path):
    model = FixedModel(input_shape=(None, 28, 28))
    predict_images([save_digit(tmp_path / "d.png")], model=model)
    assert model.batches[0].shape == (1, 28, 28)


def test_an_unknown_preprocessing_is_refused(tmp_path):
    with pytest.raises(ValueError, match="expected one of to_mnist, naive, naive-inverted"):
        predict_images([save_digit(tmp_path / "d.png")], model=FixedModel(), preprocessing="x")


@pytest.mark.parametrize(
    ("model", "message"),
    [
        pytest.param(FixedModel(input_shape=(None, 32, 32, 3)), "expected 28x28", id="input"),
        pytest.param(FixedModel([1.0]), r"expected \(10,\)", id="one-output"),
        pytest.param(FixedModel([2.0] + [0.0] * 9), "not probabilities", id="logits"),
    ],
)
def test_a_model_that_does_not_fit_the_lab_is_refused(model, message, tmp_path):
    with pytest.raises(LabError, match=message):
        predict_images([save_digit(tmp_path / "d.png")], model=model)


def test_no_readable_image_does_not_call_the_model(tmp_path):
    model = FixedModel()
    predictions = predict_images([tmp_path / "missing.png"], model=model)
    assert not predictions[0].predicted and model.batches == []


def test_to_dict_is_json_ready(tmp_path):
    good, missing = save_digit(tmp_path / "d.png"), tmp_path / "missing.png"
    predictions = predict_images([good, missing], model=FixedModel(UNSURE_THREE))
    data = json.loads(json.dumps([p.to_dict() for p in predictions]))
    assert data[0]["digit"] == 3 and data[0]["low_confidence"] is True
    assert [entry["digit"] for entry in data[0]["top3"]] == [3, 8, 9]
    assert data[1]["digit"] is None and "No file at" in data[1]["error"]


def test_a_tiny_keras_model_gives_its_own_argmax(tmp_path):
    import keras
    from keras import layers

    keras.utils.set_random_seed(SEED)
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(4, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    paths = [save_digit(tmp_path / f"{shape}.png", shape) for shape in ("seven", "four", "zero")]
    predictions = predict_images(paths, model=model)
    for path, prediction in zip(paths, predictions, strict=True):
        expected = model.predict(prepare_for_model(path), verbose=0)[0]
        assert prediction.digit == int(expected.argmax())
        assert prediction.confidence == pytest.approx(float(expected.max()), rel=1e-5)


def test_save_view_scales_up_without_blurring(tmp_path):
    view = np.zeros((28, 28), dtype=np.float32)
    view[10:18, 12:16] = 1.0
    view[0, 0] = 0.5
    path = save_view(view, tmp_path / "v.png")
    with Image.open(path) as image:
        assert image.mode == "L" and image.size == (28 * VIEW_SCALE, 28 * VIEW_SCALE)
        pixels = np.asarray(image)
    np.testing.assert_array_equal(pixels[::VIEW_SCALE, ::VIEW_SCALE], np.round(view * 255))
    assert set(np.unique(pixels)) == {0, 128, 255}


def test_save_views_skips_errors_and_numbers_repeated_names(tmp_path):
    view = np.zeros((28, 28), dtype=np.float32)
    predictions = [
        ImagePrediction(path=Path("a/7.jpg"), digit=7, confidence=1.0, view=view),
        ImagePrediction(path=Path("b/7.png"), digit=7, confidence=1.0, view=view),
        ImagePrediction(path=Path("c/blank.png"), error="No ink found"),
    ]
    saved = save_views(predictions, tmp_path / "views")
    assert [path.name for path in saved] == ["7.png", "7_2.png"]
    assert sorted(p.name for p in (tmp_path / "views").iterdir()) == ["7.png", "7_2.png"]


@pytest.mark.parametrize(
    ("present", "expected"),
    [
        pytest.param(MODEL_NAMES, MODEL_NAMES[0], id="improved-preferred"),
        pytest.param(MODEL_NAMES[1:], MODEL_NAMES[1], id="lab-model"),
    ],
)
def test_find_model_defaults_to_the_report_folder(present, expected, tmp_path):
    for name in present:
        (tmp_path / name).write_bytes(b"model")
    assert find_model(report_dir=tmp_path) == tmp_path / expected


def test_find_model_takes_an_explicit_path_first(tmp_path):
    (tmp_path / MODEL_NAMES[0]).write_bytes(b"model")
    mine = _write(tmp_path / "mine.keras", b"model")
    assert find_model(mine, report_dir=tmp_path) == mine


@pytest.mark.parametrize(
    ("model", "message"),
    [
        pytest.param(None, "run `mnist-lab run` first or pass --model", id="no-report"),
        pytest.param("nowhere.keras", "No model file at nowhere.keras", id="missing-file"),
    ],
)
def test_find_model_says_how_to_get_a_model(model, message, tmp_path):
    with pytest.raises(LabError, match=message):
        find_model(model, report_dir=tmp_path)
