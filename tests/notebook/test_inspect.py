"""Facts read from a notebook without running it: identity and training time."""

from __future__ import annotations

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from mnist_lab.notebook.inspect import NOT_GIVEN, student_identity, training_seconds


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        pytest.param(
            [new_code_cell('STUDENT_NAME = "Ada Lovelace"\nREGISTER_NUMBER = "2122"')],
            {"name": "Ada Lovelace", "register_number": "2122"},
            id="variables",
        ),
        pytest.param(
            [new_markdown_cell("## NAME: Alan Turing\n## REGISTER NUMBER: 212223")],
            {"name": "Alan Turing", "register_number": "212223"},
            id="markdown_header",
        ),
        pytest.param(
            [new_markdown_cell("**Name:** Grace Hopper  \n**Reg. No:** 99")],
            {"name": "Grace Hopper", "register_number": "99"},
            id="bold_markdown",
        ),
        pytest.param(
            [new_code_cell('STUDENT_NAME = ""\nREGISTER_NUMBER = "your register number"')],
            {"name": NOT_GIVEN, "register_number": NOT_GIVEN},
            id="placeholders",
        ),
        pytest.param(
            [new_code_cell("STUDENT_NAME = input()\n%matplotlib inline")],
            {"name": NOT_GIVEN, "register_number": NOT_GIVEN},
            id="not_literal_and_magic",
        ),
        pytest.param(
            [new_code_cell(f'STUDENT_NAME = "{"x" * 500}"')],
            {"name": "x" * 80, "register_number": NOT_GIVEN},
            id="too_long_is_cut",
        ),
    ],
)
def test_student_identity(cells, expected):
    assert student_identity(new_notebook(cells=cells)) == expected


def timed_cell(source, start, end):
    cell = new_code_cell(source)
    cell.metadata["execution"] = {"iopub.execute_input": start, "shell.execute_reply": end}
    return cell


def test_training_seconds_comes_from_the_fit_cell():
    notebook = new_notebook(
        cells=[
            timed_cell("x = 1", "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:09.000Z"),
            timed_cell(
                "history = model.fit(x, y, epochs=5)",
                "2026-01-01T00:00:10.000Z",
                "2026-01-01T00:00:45.500Z",
            ),
            timed_cell(
                "improved_history = better.fit(x, y)",
                "2026-01-01T00:01:00.000Z",
                "2026-01-01T00:03:00.000Z",
            ),
        ]
    )
    assert training_seconds(notebook) == pytest.approx(35.5)
    assert training_seconds(notebook, "improved_history") == pytest.approx(120.0)
    assert training_seconds(new_notebook(cells=[new_code_cell("history = 1")])) is None
