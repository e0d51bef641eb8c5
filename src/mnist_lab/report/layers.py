"""Describe a built Keras model layer by layer, for the report's diagram and layer table.

`describe_model` reads only what a built model already knows (configs, output shapes,
weight counts); it never calls, compiles or changes the model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from mnist_lab.report.content import LayerInfo

logger = logging.getLogger(__name__)

UNKNOWN_SHAPE: tuple[int | None, ...] = ()  # output shape of a layer that has none to report


def describe_model(model: Any) -> tuple[LayerInfo, ...]:
    """The layers of a built Keras 3 model, its input(s) first.

    Works for `keras.Sequential` (whose `layers` leave the input out) and functional models
    (whose `layers` start with their `InputLayer`s). A layer whose output shape or weight
    count cannot be read is still listed, with an empty shape or 0 parameters.

    Raises `ValueError` when the model has no layers at all.
    """
    model_layers = list(getattr(model, "layers", []))
    if not model_layers:
        raise ValueError(
            f"Model {getattr(model, 'name', model)!r} has no layers to describe; expected a "
            "built Keras model such as keras.Sequential([keras.Input(...), ...])."
        )
    described: list[LayerInfo] = []
    if type(model_layers[0]).__name__ != "InputLayer":
        described.extend(_model_inputs(model))
    described.extend(_describe_layer(layer) for layer in model_layers)
    return tuple(described)


def parameter_count(model: Any) -> int:
    """The model's total number of weights (trainable and not), as `model.summary()` reports.

    Raises `ValueError`, with a hint, when the model is not built yet.
    """
    try:
        return int(model.count_params())
    except ValueError as error:
        raise ValueError(
            f"Cannot count the parameters of model {getattr(model, 'name', model)!r}: {error} "
            "Build it first, e.g. start the Sequential with keras.Input(shape=(28, 28, 1))."
        ) from error


def total_params(layers: Sequence[LayerInfo]) -> int:
    """The sum of the layers' parameter counts."""
    return sum(layer.params for layer in layers)


def format_shape(shape: Sequence[int | None]) -> str:
    """A layer output shape without the batch axis, e.g. (None, 26, 26, 32) -> "26x26x32"."""
    if not shape:
        return "?"
    dims = tuple(shape[1:]) if len(shape) > 1 else tuple(shape)
    return "x".join("?" if dim is None else str(dim) for dim in dims)


def _model_inputs(model: Any) -> list[LayerInfo]:
    """Input entries for a Sequential model, whose `layers` do not include its InputLayer."""
    try:
        inputs = list(model.inputs or [])
    except (AttributeError, ValueError):
        inputs = []
    if not inputs:
        logger.info("Model %r has no known inputs; the layer list starts without one.", model)
        return []
    names = ["input"] if len(inputs) == 1 else [f"input_{index}" for index in range(len(inputs))]
    return [
        LayerInfo(
            name=name,
            kind="InputLayer",
            detail=f"input {format_shape(_as_shape(tensor.shape))}",
            output_shape=_as_shape(tensor.shape),
            params=0,
        )
        for name, tensor in zip(names, inputs, strict=True)
    ]


def _describe_layer(layer: Any) -> LayerInfo:
    kind = type(layer).__name__
    try:
        config = layer.get_config()
    except (NotImplementedError, TypeError, ValueError):
        config = {}
    output_shape = _output_shape(layer)
    describe = _DETAILS.get(kind, _generic_detail)
    try:
        detail = describe(layer, config, output_shape)
    except (KeyError, TypeError, ValueError, IndexError):
        logger.debug("No detail for layer %s of kind %s", layer.name, kind, exc_info=True)
        detail = ""
    return LayerInfo(
        name=str(layer.name),
        kind=kind,
        detail=detail,
        output_shape=output_shape,
        params=_layer_params(layer),
    )


def _output_shape(layer: Any) -> tuple[int | None, ...]:
    try:
        output = layer.output
    except (AttributeError, ValueError, RuntimeError):
        return UNKNOWN_SHAPE
    if isinstance(output, (list, tuple)):
        if not output:
            return UNKNOWN_SHAPE
        output = output[0]
    shape = getattr(output, "shape", None)
    return UNKNOWN_SHAPE if shape is None else _as_shape(shape)


def _layer_params(layer: Any) -> int:
    try:
        return int(layer.count_params())
    except ValueError:  # an unbuilt layer has no weights yet
        return 0


def _as_shape(shape: Any) -> tuple[int | None, ...]:
    return tuple(None if dim is None else int(dim) for dim in shape)


def _size(value: Any) -> str:
    """(3, 3) -> "3x3"; 3 -> "3"."""
    if isinstance(value, (list, tuple)):
        return "x".join(str(item) for item in value)
    return str(value)


def _activation_name(config: dict) -> str:
    activation = config.get("activation")
    if isinstance(activation, dict):  # a serialised custom activation
        activation = activation.get("config", {}).get("name") or activation.get("class_name")
    return "" if activation in (None, "linear") else str(activation)


def _join(*parts: str) -> str:
    return ", ".join(part for part in parts if part)


def _conv_detail(layer: Any, config: dict, shape: tuple) -> str:
    if "filters" in config:
        what = f"{config['filters']} filters {_size(config['kernel_size'])}"
    else:  # DepthwiseConv
        what = f"depthwise {_size(config['kernel_size'])}"
    strides = config.get("strides")
    stride = f"stride {_size(strides)}" if strides and set(_flat(strides)) != {1} else ""
    padding = "same padding" if config.get("padding") == "same" else ""
    return _join(what, stride, padding, _activation_name(config))


def _pool_detail(layer: Any, config: dict, shape: tuple) -> str:
    pool_size = config["pool_size"]
    strides = config.get("strides")
    stride = f"stride {_size(strides)}" if strides and _flat(strides) != _flat(pool_size) else ""
    return _join(f"pool {_size(pool_size)}", stride)


def _global_pool_detail(layer: Any, config: dict, shape: tuple) -> str:
    return "global max" if "Max" in type(layer).__name__ else "global average"


def _dense_detail(layer: Any, config: dict, shape: tuple) -> str:
    return _join(f"{config['units']} units", _activation_name(config))


def _dropout_detail(layer: Any, config: dict, shape: tuple) -> str:
    return f"rate {config['rate']:g}"


def _flatten_detail(layer: Any, config: dict, shape: tuple) -> str:
    return f"{shape[-1]} values" if shape and shape[-1] is not None else "to a vector"


def _reshape_detail(layer: Any, config: dict, shape: tuple) -> str:
    return f"to {_size(config['target_shape'])}"


def _input_detail(layer: Any, config: dict, shape: tuple) -> str:
    return f"input {format_shape(shape)}"


def _batch_norm_detail(layer: Any, config: dict, shape: tuple) -> str:
    return "per-channel mean/variance"


def _activation_detail(layer: Any, config: dict, shape: tuple) -> str:
    return _activation_name(config) or "linear"


def _named_activation_detail(layer: Any, config: dict, shape: tuple) -> str:
    return type(layer).__name__.lower()


def _rescaling_detail(layer: Any, config: dict, shape: tuple) -> str:
    scale, offset = config.get("scale", 1.0), config.get("offset", 0.0)
    scale_text = "1/255" if abs(float(scale) * 255 - 1) < 1e-6 else f"{float(scale):.4g}"
    return _join(f"scale {scale_text}", f"offset {offset:g}" if offset else "")


def _nested_model_detail(layer: Any, config: dict, shape: tuple) -> str:
    return f"{len(layer.layers)} layers"


def _generic_detail(layer: Any, config: dict, shape: tuple) -> str:
    return _activation_name(config)


def _flat(value: Any) -> tuple:
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


_Detail = Callable[[Any, dict, tuple], str]
_DETAILS: dict[str, _Detail] = {
    "InputLayer": _input_detail,
    **dict.fromkeys(
        ["Conv1D", "Conv2D", "Conv3D", "SeparableConv2D", "DepthwiseConv2D", "Conv2DTranspose"],
        _conv_detail,
    ),
    **dict.fromkeys(
        ["MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D"], _pool_detail
    ),
    **dict.fromkeys(
        [
            "GlobalMaxPooling1D",
            "GlobalMaxPooling2D",
            "GlobalAveragePooling1D",
            "GlobalAveragePooling2D",
        ],
        _global_pool_detail,
    ),
    "Dense": _dense_detail,
    **dict.fromkeys(["Dropout", "SpatialDropout1D", "SpatialDropout2D"], _dropout_detail),
    "Flatten": _flatten_detail,
    "Reshape": _reshape_detail,
    "BatchNormalization": _batch_norm_detail,
    "Activation": _activation_detail,
    **dict.fromkeys(["ReLU", "Softmax", "LeakyReLU", "ELU", "PReLU"], _named_activation_detail),
    "Rescaling": _rescaling_detail,
    **dict.fromkeys(["Sequential", "Functional", "Model"], _nested_model_detail),
}
