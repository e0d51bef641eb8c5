"""describe_model: one LayerInfo per layer of a built (untrained) Keras model, input first."""

from __future__ import annotations

import keras
import pytest
from keras import layers

from mnist_lab.report.layers import describe_model, format_shape, parameter_count, total_params

INPUT_SHAPE = (28, 28, 1)


@pytest.fixture(scope="module")
def small_cnn() -> keras.Model:
    """Conv2D > MaxPooling2D > Flatten > Dense(10, softmax), built but never trained."""
    return keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE),
            layers.Conv2D(8, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
    )


def test_sequential_model_lists_input_then_every_layer(small_cnn):
    described = describe_model(small_cnn)
    assert len(described) == len(small_cnn.layers) + 1
    assert [layer.kind for layer in described] == [
        "InputLayer",
        "Conv2D",
        "MaxPooling2D",
        "Flatten",
        "Dense",
    ]
    assert [layer.name for layer in described[1:]] == [layer.name for layer in small_cnn.layers]


def test_parameters_match_keras(small_cnn):
    described = describe_model(small_cnn)
    assert total_params(described) == small_cnn.count_params() == parameter_count(small_cnn)
    assert [layer.params for layer in described] == [0, 80, 0, 0, 13 * 13 * 8 * 10 + 10]


def test_output_shapes_match_keras(small_cnn):
    described = describe_model(small_cnn)
    assert described[0].output_shape == (None, *INPUT_SHAPE)
    assert [layer.output_shape for layer in described[1:]] == [
        tuple(layer.output.shape) for layer in small_cnn.layers
    ]
    assert described[-1].output_shape == (None, 10)


@pytest.mark.parametrize(
    ("layer", "detail"),
    [
        (layers.Conv2D(32, 3, activation="relu"), "32 filters 3x3, relu"),
        (
            layers.Conv2D(16, (5, 5), strides=2, padding="same"),
            "16 filters 5x5, stride 2x2, same padding",
        ),
        (layers.MaxPooling2D(2), "pool 2x2"),
        (layers.AveragePooling2D(2, strides=1), "pool 2x2, stride 1x1"),
        (layers.GlobalAveragePooling2D(), "global average"),
        (layers.Dropout(0.25), "rate 0.25"),
        (layers.Flatten(), "784 values"),
        (layers.Dense(10, activation="softmax"), "10 units, softmax"),
        (layers.Dense(64), "64 units"),
        (layers.BatchNormalization(), "per-channel mean/variance"),
        (layers.Activation("relu"), "relu"),
        (layers.ReLU(), "relu"),
        (layers.Rescaling(1 / 255), "scale 1/255"),
    ],
    ids=lambda value: value if isinstance(value, str) else type(value).__name__,
)
def test_layer_detail(layer, detail):
    model = keras.Sequential([keras.Input(shape=INPUT_SHAPE), layer])
    described = describe_model(model)
    assert described[0].detail == "input 28x28x1"
    assert described[1].detail == detail


def test_functional_model_lists_its_input_layer_once():
    inputs = keras.Input(shape=INPUT_SHAPE, name="digits")
    hidden = layers.Conv2D(4, 3, activation="relu")(inputs)
    outputs = layers.Dense(10, activation="softmax")(layers.GlobalMaxPooling2D()(hidden))
    model = keras.Model(inputs, outputs)
    described = describe_model(model)
    assert [layer.kind for layer in described].count("InputLayer") == 1
    assert described[0].name == "digits"
    assert described[0].output_shape == (None, *INPUT_SHAPE)
    assert total_params(described) == model.count_params()


def test_unbuilt_layers_are_listed_without_shape_or_params():
    model = keras.Sequential([layers.Dense(3), layers.Dropout(0.5)])
    described = describe_model(model)
    assert [(layer.kind, layer.output_shape, layer.params) for layer in described] == [
        ("Dense", (), 0),
        ("Dropout", (), 0),
    ]
    with pytest.raises(ValueError, match="Build it first"):
        parameter_count(model)


def test_model_without_layers_is_refused():
    with pytest.raises(ValueError, match="no layers"):
        describe_model(keras.Sequential())


@pytest.mark.parametrize(
    ("shape", "text"),
    [
        ((None, 26, 26, 32), "26x26x32"),
        ((None, 10), "10"),
        ((None, None, 8), "?x8"),
        ((), "?"),
    ],
)
def test_format_shape(shape, text):
    assert format_shape(shape) == text
