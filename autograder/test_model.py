"""Checks of the lab model: a CNN of the lab's shape, compiled as the lab says.

`model` is the notebook's model as saved and loaded back in Keras safe mode (`SavedModel`:
`.model` is the Keras model, `.compile_config` its compile settings).
"""

from mnist_lab.contract import INPUT_SHAPE, NUM_CLASSES
from mnist_lab.grading.checker import models


def test_cnn_architecture(model, thresholds, feedback):
    """The lab model is a CNN: Conv2D, pooling, Flatten, a 10-unit softmax output."""
    network = model.model
    layers = models.layers_in_order(network)
    kinds = [models.kind(layer) for layer in layers]
    problems = []
    shape = models.input_shape(network)
    if shape != INPUT_SHAPE:
        problems.append(
            f"The model's input shape is {shape}; expected (28, 28, 1). Start the model with "
            "keras.Input(shape=(28, 28, 1))."
        )
    convolutions = [i for i, kind in enumerate(kinds) if kind in models.CONVOLUTIONS]
    if not convolutions:
        problems.append(
            f"The model has no convolution layer (its layers: {', '.join(kinds) or 'none'}). "
            "The lab asks for a convolutional network: add "
            "layers.Conv2D(32, kernel_size=(3, 3), activation='relu') after the input."
        )
    elif not any(kind in models.POOLINGS for kind in kinds[convolutions[0] + 1 :]):
        problems.append(
            "No pooling layer follows the convolution layer: add "
            "layers.MaxPooling2D(pool_size=(2, 2)) after Conv2D."
        )
    if not any(kind in models.FLATTENS for kind in kinds):
        problems.append(
            "The model has no Flatten layer between the convolution part and the Dense layers: "
            "add layers.Flatten() before the first Dense layer."
        )
    problems += _output_problems(network, layers)
    count = models.parameter_count(network)
    low, high = thresholds.min_parameters, thresholds.max_parameters
    if count is not None and not low <= count <= high:
        problems.append(
            f"The model has {count:,} parameters; expected between {low:,} and {high:,}. "
            + ("Add filters or units." if count < low else "Use fewer filters or units.")
        )
    assert not problems, "\n".join(problems)
    feedback.note(f"A convolutional network: {' > '.join(kinds)}; {count or 0:,} parameters.")


def test_compile_settings(model, feedback):
    """The lab model is compiled with the Adam optimizer and categorical cross-entropy."""
    config = model.compile_config
    how = "model.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])"
    assert config, f"The saved model was never compiled. Compile it with {how}."
    problems = []
    optimizer = models.compiled_optimizer(config)
    if optimizer != "adam":
        problems.append(
            f"The model was compiled with the {optimizer or 'default'!r} optimizer; the lab "
            f"uses Adam: {how}."
        )
    loss = models.compiled_loss(config)
    if loss != "categoricalcrossentropy":
        hint = " (sparse labels need no one-hot encoding)" if "sparse" in loss else ""
        problems.append(
            f"The model was compiled with the loss {loss or 'none'!r}{hint}; the lab uses "
            f"categorical cross-entropy with one-hot labels: {how}."
        )
    assert not problems, "\n".join(problems)
    feedback.note("Compiled with Adam and categorical cross-entropy.")


def _output_problems(network, layers: list) -> list[str]:
    shape = models.output_shape(network)
    if shape != (NUM_CLASSES,):
        return [
            f"The model's output shape is (None, {', '.join(map(str, shape or ()))}); expected "
            "(None, 10), one probability per digit. Does the last Dense layer have 10 units?"
        ]
    last = layers[-1] if layers else None
    if last is None or models.activation(last) != "softmax":
        found = models.activation(last) if last is not None else None
        return [
            f"The last layer's activation is {found or 'none'!r}; expected 'softmax', so that "
            "the 10 outputs are probabilities that sum to 1: "
            "layers.Dense(10, activation='softmax')."
        ]
    return []
