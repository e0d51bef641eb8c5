"""Two checks of an instructor's own, graded with the kit's: see autograder/README.md.

To use them, copy autograder/rubric.toml beside this file, replace its line
`check_files = []` with

    check_files = ["my_checks.py"]

and add these tables at its end:

    [checks.uses_dropout]
    points = 5
    visibility = "visible"

    [checks.reflection]
    points = 5
    visibility = "hidden"
"""


def test_uses_dropout(improved_model, feedback):
    """The improved model uses Dropout."""
    kinds = [type(layer).__name__ for layer in improved_model.model.layers]
    assert "Dropout" in kinds, (
        f"`improved_model` has no Dropout layer (its layers: {', '.join(kinds)}). Add "
        "layers.Dropout(0.25) after a pooling or a Dense layer, so that the network cannot "
        "memorise the training images."
    )
    feedback.note(f"`improved_model` uses Dropout: {' > '.join(kinds)}.")


def test_reflection(reflection, feedback):
    """`reflection` says, in at least 30 words, which change to the model helped most."""
    assert isinstance(reflection, str), (
        f"`reflection` is a {type(reflection).__name__}; expected a string: "
        'reflection = """...""" in a code cell.'
    )
    words = len(reflection.split())
    assert words >= 30, (
        f"`reflection` holds {words} words; write at least 30 on which change to the model "
        "helped most, and how you know."
    )
    feedback.note(f"`reflection` holds {words} words.")
