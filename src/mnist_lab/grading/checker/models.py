"""Facts about a saved Keras model, for the checks: layers, compile settings, accuracy.

Everything reads a model loaded in safe mode in the checker process; nothing here changes
the model or trusts a figure the notebook printed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_lab.contract import NUM_CLASSES

CONVOLUTIONS = frozenset(
    {"Conv2D", "SeparableConv2D", "DepthwiseConv2D", "Convolution2D", "SeparableConvolution2D"}
)
POOLINGS = frozenset(
    {
        "MaxPooling2D",
        "AveragePooling2D",
        "MaxPool2D",
        "AvgPool2D",
        "GlobalMaxPooling2D",
        "GlobalAveragePooling2D",
        "GlobalMaxPool2D",
        "GlobalAvgPool2D",
    }
)
# Global pooling flattens too: a network ending in GlobalAveragePooling2D needs no Flatten.
FLATTENS = frozenset({"Flatten"} | {kind for kind in POOLINGS if kind.startswith("Global")})
SOFTMAX_LAYERS = frozenset({"Softmax"})
PREDICT_BATCH = 500


def layers_in_order(model) -> list:
    """Every layer, nested models opened up, in the order the data flows (inputs left out)."""
    found = []
    for layer in getattr(model, "layers", []):
        if hasattr(layer, "layers") and getattr(layer, "layers", None):
            found.extend(layers_in_order(layer))
        elif type(layer).__name__ != "InputLayer":
            found.append(layer)
    return found


def kind(layer) -> str:
    return type(layer).__name__


def activation(layer) -> str | None:
    """The layer's activation name ("softmax", "relu"), or None when it has none."""
    if kind(layer) in SOFTMAX_LAYERS:
        return "softmax"
    try:
        value = layer.get_config().get("activation")
    except Exception:  # a layer whose config cannot be read has no activation we can name
        return None
    if isinstance(value, dict):
        value = value.get("config", value.get("class_name"))
        if isinstance(value, dict):
            value = value.get("name")
    return str(value).lower() if value else None


def input_shape(model) -> tuple | None:
    try:
        shape = model.input_shape
    except (AttributeError, ValueError):
        return None
    if isinstance(shape, list):  # several inputs
        return None
    return tuple(shape[1:])


def output_shape(model) -> tuple | None:
    try:
        return tuple(model.output_shape[1:])
    except (AttributeError, ValueError, TypeError):
        return None


def parameter_count(model) -> int | None:
    try:
        return int(model.count_params())
    except (ValueError, AttributeError):
        return None


def short_name(value) -> str:
    """A compile setting's name, lower case without underscores ("categoricalcrossentropy").

    Reads a name ("adam"), a serialised object ({"class_name": "Adam", ...}) or a serialised
    function ({"class_name": "function", "config": "categorical_crossentropy"}).
    """
    if isinstance(value, dict):
        config = value.get("config")
        value = config if isinstance(config, str) else value.get("class_name", "")
    return str(value or "").replace("_", "").lower()


def compiled_loss(compile_config: dict) -> str:
    return short_name(compile_config.get("loss"))


def compiled_optimizer(compile_config: dict) -> str:
    return short_name(compile_config.get("optimizer"))


def model_inputs(model, images: np.ndarray, *, scale: float) -> np.ndarray:
    """``images`` (uint8, N x 28 x 28) divided by ``scale`` and shaped as the model's input."""
    shape = input_shape(model)
    if shape is None or None in shape or int(np.prod(shape)) != 28 * 28:
        raise ValueError(
            f"the model takes inputs of shape {shape}; expected 28x28 images, e.g. (28, 28, 1)"
        )
    return (images.astype("float32") / scale).reshape((-1, *shape))


def predictions(model, inputs: np.ndarray) -> np.ndarray:
    """The model's predicted digit for each input (argmax of its 10 outputs)."""
    outputs = np.asarray(model.predict(inputs, verbose=0, batch_size=PREDICT_BATCH))
    if outputs.ndim != 2 or outputs.shape[1] != NUM_CLASSES:
        raise ValueError(
            f"the model's output has shape {outputs.shape[1:]} per image; expected (10,), one "
            "score per digit"
        )
    return outputs.argmax(axis=1)


def accuracy(model, images: np.ndarray, labels: np.ndarray, *, scale: float = 255.0) -> float:
    """Fraction of ``images`` the model classifies as ``labels``, inputs scaled by ``scale``."""
    return float(np.mean(predictions(model, model_inputs(model, images, scale=scale)) == labels))


ACCURACY_ADVICE = (
    "Train on all 60,000 training images for the full number of epochs, check the "
    "architecture, and keep the learning rate at Adam's default."
)
# Below this, a model of ten classes has learnt next to nothing.
NEAR_CHANCE = 0.2


@dataclass(frozen=True)
class MeasuredAccuracy:
    """A saved model's accuracy on the MNIST test images, measured by the grader."""

    name: str
    accuracy: float
    note: str = ""

    def __str__(self) -> str:
        return (
            f"The grader measured `{self.name}`'s accuracy on the 10,000 MNIST test images: "
            f"{self.accuracy:.4f}{self.note}"
        )

    def advice(self) -> str:
        if self.accuracy < NEAR_CHANCE:
            return (
                "That is about chance: the model has not learnt the digits. Check that it was "
                "trained (model.fit ran to the end), on the scaled images with their own "
                "one-hot labels, in the same order."
            )
        return ACCURACY_ADVICE


def measured_accuracy(saved, mnist, required: float) -> MeasuredAccuracy:
    """``saved`` (a `SavedModel`) on the grader's test images; fails the check when it cannot.

    A model under ``required`` that was trained on unscaled pixels is measured on unscaled
    pixels, as it was trained, so that forgetting ``/ 255`` costs only the scaling check.
    """
    try:
        scaled = accuracy(saved.model, mnist.x_test, mnist.y_test, scale=255.0)
        raw = (
            accuracy(saved.model, mnist.x_test, mnist.y_test, scale=1.0)
            if scaled < required
            else 0.0
        )
    except ValueError as error:
        raise AssertionError(f"The grader could not evaluate `{saved.name}`: {error}.") from None
    if raw > scaled:
        return MeasuredAccuracy(
            saved.name, raw, " (measured on unscaled pixels, 0-255, as the model was trained)"
        )
    return MeasuredAccuracy(saved.name, scaled)
