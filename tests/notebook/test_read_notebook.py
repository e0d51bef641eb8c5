"""Bad notebook files are refused before a kernel starts, with a message that says why."""

from __future__ import annotations

import json

import nbformat
import pytest

from mnist_lab.errors import LabError
from mnist_lab.notebook.execute import MAX_NOTEBOOK_BYTES, read_notebook


def missing(tmp_path):
    return tmp_path / "lab.ipynb"


def folder(tmp_path):
    (tmp_path / "lab.ipynb").mkdir()
    return tmp_path / "lab.ipynb"


def python_file(tmp_path):
    (tmp_path / "lab.py").write_text("print(1)")
    return tmp_path / "lab.py"


def invalid_json(tmp_path):
    (tmp_path / "lab.ipynb").write_text('{"cells": [')
    return tmp_path / "lab.ipynb"


def not_a_notebook_schema(tmp_path):
    (tmp_path / "lab.ipynb").write_text(json.dumps({"cells": "nope", "nbformat": 4}))
    return tmp_path / "lab.ipynb"


def no_code_cells(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Lab")])
    nbformat.write(notebook, tmp_path / "lab.ipynb")
    return tmp_path / "lab.ipynb"


def too_large(tmp_path):
    with (tmp_path / "lab.ipynb").open("wb") as file:
        file.truncate(MAX_NOTEBOOK_BYTES + 1)  # sparse: no disk is used
    return tmp_path / "lab.ipynb"


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (missing, "Notebook not found"),
        (folder, "is a folder"),
        (python_file, "is not a notebook"),
        (invalid_json, "could not be read as a Jupyter notebook"),
        (not_a_notebook_schema, "not a valid notebook|could not be read"),
        (no_code_cells, "no code cells"),
        (too_large, "is 100 MB; a lab notebook is far smaller"),
    ],
)
def test_bad_notebooks_are_refused(tmp_path, make, expected):
    with pytest.raises(LabError, match=expected):
        read_notebook(make(tmp_path))


def test_a_good_notebook_is_read(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(notebook, tmp_path / "lab.ipynb")
    assert read_notebook(tmp_path / "lab.ipynb").cells[0].source == "x = 1"
