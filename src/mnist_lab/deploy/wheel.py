"""Build the kit's wheel from this checkout, the way the Gradescope zip ships the kit.

pip builds it from a scratch copy of the project's sources, not in place: setuptools leaves
``build/`` and ``*.egg-info`` in the folder it builds, and would put into the wheel any module
that an earlier build left in ``build/lib`` after it was deleted from ``src/``. The copy holds
the files that ``src/mnist_lab/kit/`` links to (the rubric, the scans, the template), so the
wheel carries them as package data, as any wheel of the kit does, but not the reference
solution: a student's notebook runs beside the installed grader and could read it, and even
print it into its own feedback.

The students' wheel (``student=True``, `mnist-lab student-wheel`) is what a student installs
to work on the lab (on Colab, a laptop, a course JupyterHub): it leaves the solution out too,
and the code of every hidden check (the rubric's ``visibility = "hidden"``): each hidden
check's function is cut out of its check file, so the visible checks the notebook's check
cells call are all still there.
"""

from __future__ import annotations

import ast
import logging
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mnist_lab.errors import LabError
from mnist_lab.paths import PROJECT_ROOT

logger = logging.getLogger(__name__)

# What setuptools needs to build the wheel: the metadata, the README it names, the package.
PROJECT_FILES = ("pyproject.toml", "README.md")
PACKAGE_FOLDER = "src"
JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
# Left out of the copy, hence of the graders' wheel: the reference solution (see above).
SOLUTION_IN_KIT = Path(PACKAGE_FOLDER, "mnist_lab", "kit", "solution")
CHECKS_IN_KIT = Path(PACKAGE_FOLDER, "mnist_lab", "kit", "autograder")
PIP_TAIL_LINES = 15


def build_wheel(out_dir: Path, *, project: Path = PROJECT_ROOT, student: bool = False) -> Path:
    """Build ``mnist_cnn_lab-*.whl`` from ``project`` into ``out_dir``; return its path.

    With ``student``, the students' wheel: the hidden checks' code left out as well.
    """
    if not (project / "pyproject.toml").is_file():
        raise LabError(
            f"No pyproject.toml in {project}: the kit's wheel is built from its source "
            "folder. Run this command from a checkout of the kit (pip install -e .), not "
            "from an installed copy."
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mnist-lab-wheel-") as scratch:
        copy = Path(scratch) / "project"
        # Without symlinks=True, the copy holds the files kit/'s links lead to.
        shutil.copytree(project / PACKAGE_FOLDER, copy / PACKAGE_FOLDER, ignore=JUNK)
        shutil.rmtree(copy / SOLUTION_IN_KIT)
        if student:
            _cut_hidden_checks(copy / CHECKS_IN_KIT)
        for name in PROJECT_FILES:
            shutil.copy2(project / name, copy / name)
        logger.info("Building the kit's wheel with pip")
        _pip_wheel(copy, out_dir)
    wheels = sorted(out_dir.glob("mnist_cnn_lab-*.whl"))
    if len(wheels) != 1:
        raise LabError(f"pip built {len(wheels)} wheels of the kit in {out_dir}; expected one.")
    return wheels[0]


def _pip_wheel(project: Path, out_dir: Path) -> None:
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet"]
    command += ["--wheel-dir", str(out_dir), str(project)]
    completed = subprocess.run(command, capture_output=True, text=True, errors="replace")
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr).strip().splitlines()
        raise LabError(
            f"pip could not build the kit's wheel (exit status {completed.returncode}). "
            "pip needs setuptools from the package index for the build: check that pip can "
            "reach it (or its mirror). pip said:\n" + "\n".join(output[-PIP_TAIL_LINES:])
        )


def _cut_hidden_checks(folder: Path) -> list[str]:
    """Cut each hidden check's function (decorators included) out of the check files in
    ``folder``, with the private helpers only they used, and their tables out of the rubric
    there, so that the rest still loads; returns what was cut."""
    from mnist_lab.grading.catalogue import BUILTIN_FILES
    from mnist_lab.grading.rubric import load_rubric, rubric_from_dict, tomllib

    rubric_path = folder / "rubric.toml"
    hidden = [
        name
        for name, spec in load_rubric(rubric_path).checks.items()
        if spec.visibility == "hidden"
    ]
    cut = []
    for name in BUILTIN_FILES:
        path = folder / name
        source, removed = _without_functions(
            path.read_text(encoding="utf-8"), {f"test_{check}" for check in hidden}
        )
        path.write_text(source, encoding="utf-8")
        cut += [f"{name}: {function}" for function in removed]
    if sum(1 for line in cut if ": test_" in line) != len(hidden):
        raise LabError(
            f"The students' wheel must leave out the hidden checks ({', '.join(hidden)}), but "
            "the kit's check files do not hold each of them once; not built."
        )
    text = _without_tables(rubric_path.read_text(encoding="utf-8"), hidden)
    left = [
        node.name.removeprefix("test_")
        for name in BUILTIN_FILES
        for node in ast.parse((folder / name).read_text(encoding="utf-8")).body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    ]
    # What is left must still be a whole rubric, for the checks that are left.
    rubric_from_dict(tomllib.loads(text), source="the students' rubric", check_names=left)
    rubric_path.write_text(text, encoding="utf-8")
    logger.info("Left out of the students' wheel: %s", "; ".join(cut))
    return cut


def _without_functions(source: str, names: set[str]) -> tuple[str, list[str]]:
    """``source`` without the top-level functions ``names``, then without the private
    (``_name``) functions nothing left refers to; and the names removed."""
    removed: list[str] = []
    while True:
        tree = ast.parse(source)
        used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
        doomed = [
            node
            for node in functions
            if node.name in names
            or (removed and node.name.startswith("_") and node.name not in used)
        ]
        if not doomed:
            return source, removed
        lines = source.splitlines(keepends=True)
        for node in sorted(doomed, key=lambda node: node.lineno, reverse=True):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            del lines[first - 1 : node.end_lineno]
            removed.append(node.name)
        source = "".join(lines)
        names = set()


def _without_tables(text: str, checks: list[str]) -> str:
    """The rubric's text without the ``[checks.NAME]`` tables of ``checks``, and the comment
    lines right above each."""
    lines = text.splitlines(keepends=True)
    for name in checks:
        header = f"[checks.{name}]"
        start = next(i for i, line in enumerate(lines) if line.strip() == header)
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")),
            len(lines),
        )
        while end > start + 1 and lines[end - 1].lstrip().startswith("#"):
            end -= 1  # the next table's own comment
        while start > 0 and lines[start - 1].lstrip().startswith("#"):
            start -= 1
        del lines[start:end]
    return "".join(lines)
