"""The students' kit: a wheel without the answers, installed by the template's first cell.

`mnist-lab student-wheel` builds the wheel students install (Colab, a laptop, a course
JupyterHub). It must not hand them the answers: no reference solution, no hidden check's
code. The template's set-up cell installs it where ``mnist_lab`` cannot be imported; here
it does so in a fresh virtualenv without the kit (`new_venv`: its other packages, Jupyter
included, come from .venv), with pip held to that one wheel and no index.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
import tomllib
from nbgrader import utils

from mnist_lab.assignment import TEMPLATE_NOTEBOOK
from mnist_lab.assignment.make import make_assignment
from mnist_lab.grading.catalogue import BUILTIN_FILES, CHECK_NAMES
from mnist_lab.grading.rubric import load_rubric
from mnist_lab.paths import SOLUTION_NOTEBOOK
from tests.deploy.conftest import OFFLINE_PIP, new_venv, site_packages

KIT = "mnist_lab/kit"


@pytest.fixture(scope="module")
def student_wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("student-wheel")
    completed = subprocess.run(
        [sys.executable, "-m", "mnist_lab", "student-wheel", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stderr
    assert "without the reference solution or the hidden checks" in completed.stdout
    (wheel,) = out.glob("mnist_cnn_lab-*.whl")
    return wheel


@pytest.fixture(scope="module")
def wheel_files(student_wheel) -> dict[str, bytes]:
    with zipfile.ZipFile(student_wheel) as opened:
        return {name: opened.read(name) for name in opened.namelist()}


HIDDEN = [name for name, spec in load_rubric().checks.items() if spec.visibility == "hidden"]


def test_the_students_wheel_holds_no_solution(wheel_files):
    solution_code = [
        cell.source
        for cell in nbformat.read(SOLUTION_NOTEBOOK, as_version=4).cells
        if cell.cell_type == "code" and utils.is_solution(cell)
    ]
    assert not [name for name in wheel_files if name.startswith(f"{KIT}/solution")]
    for name, data in wheel_files.items():
        if ".dist-info/" in name:  # the README, which tells of the markers
            continue
        text = data.decode("utf-8", errors="replace")
        assert "### BEGIN SOLUTION" not in text, name
        for source in solution_code:
            assert source not in text, (name, source[:60])


def test_the_students_wheel_holds_no_hidden_check(wheel_files):
    assert HIDDEN, "the kit's rubric has a hidden check"
    files = {name: wheel_files[f"{KIT}/autograder/{name}"].decode() for name in BUILTIN_FILES}
    functions = {
        node.name
        for text in files.values()
        for node in ast.parse(text).body
        if isinstance(node, ast.FunctionDef)
    }
    for name in HIDDEN:
        assert f"test_{name}" not in functions
        assert not any(name in text for text in files.values())
    # Every visible check is still there for the notebook's check cells, and the rubric
    # the wheel carries names exactly those.
    visible = [name for name in CHECK_NAMES if name not in HIDDEN]
    assert {f"test_{name}" for name in visible} <= functions
    rubric = tomllib.loads(wheel_files[f"{KIT}/autograder/rubric.toml"].decode())
    assert list(rubric["checks"]) == visible


@pytest.mark.slow  # a wheel installed, a kernel started with TensorFlow
def test_the_template_s_first_cell_installs_the_kit_and_the_given_cells_run(
    tmp_path, student_wheel, mnist_path
):
    """In a fresh virtualenv with Jupyter but no kit, the set-up cell of a template made
    with ``--kit-source WHEEL`` installs the students' wheel, and the cells the template
    gives, up to the first one the student completes, run in a Jupyter kernel."""
    template = tmp_path / "template.ipynb"
    make_assignment(template=template, kit_source=str(student_wheel))
    released = nbformat.read(template, as_version=4)
    first = next(
        index
        for index, cell in enumerate(released.cells)
        if cell.cell_type == "code" and utils.is_solution(cell)
    )
    code = [cell for cell in released.cells[:first] if cell.cell_type == "code"]
    assert code[0].id == "install-kit" and str(student_wheel) in code[0].source
    code.append(nbformat.v4.new_code_cell("import mnist_lab\nprint('KIT AT', mnist_lab.__file__)"))
    given = tmp_path / "given.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=code, metadata=released.metadata), given)

    venv = new_venv(tmp_path / "venv")
    environment = {
        **{key: value for key, value in os.environ.items() if not key.startswith("PIP_")},
        **OFFLINE_PIP,
        "MNIST_PATH": str(mnist_path),
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    environment.pop("PYTHONPATH", None)
    command = [str(venv / "bin" / "python"), "-m", "nbconvert", "--to", "notebook"]
    command += ["--execute", "--output", "executed.ipynb", str(given)]
    completed = subprocess.run(
        command, capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=600
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    executed = nbformat.read(tmp_path / "executed.ipynb", as_version=4)
    printed = [
        "".join(output.get("text", "") for output in cell.outputs) for cell in executed.cells
    ]
    assert printed[0].startswith(f"Installing the course kit: pip install {student_wheel}")
    assert "Course kit " in printed[0] and "is ready." in printed[0]
    assert any("x_train: (60000, 28, 28) uint8" in text for text in printed)
    installed = Path(printed[-1].split("KIT AT", 1)[1].strip())
    assert installed.is_relative_to(site_packages(venv))  # the wheel's, not this checkout's
    # What the student now has on disk: no solution cell, no hidden check.
    files = [path for path in installed.parent.rglob("*") if path.is_file()]
    assert not (installed.parent / "kit" / "solution").exists()
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="replace")
        assert "### BEGIN SOLUTION" not in text, path.name
        assert not any(f"def test_{name}(" in text for name in HIDDEN), path.name


def test_the_template_installs_the_kit_s_release_by_default():
    released = nbformat.read(TEMPLATE_NOTEBOOK, as_version=4)
    setup = next(cell for cell in released.cells if cell.get("id") == "install-kit")
    from mnist_lab import __version__

    assert f'KIT_SOURCE = "mnist-cnn-lab=={__version__}"' in setup.source
    assert released.cells.index(setup) == next(
        index for index, cell in enumerate(released.cells) if cell.cell_type == "code"
    )
