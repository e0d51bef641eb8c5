"""Build the kit's wheel from this checkout, the way the Gradescope zip ships the kit.

pip builds it from a scratch copy of the project's sources, not in place: setuptools leaves
``build/`` and ``*.egg-info`` in the folder it builds, and would put into the wheel any module
that an earlier build left in ``build/lib`` after it was deleted from ``src/``. The copy holds
the files that ``src/mnist_lab/kit/`` links to (the rubric, the scans, the template), so the
wheel carries them as package data, as any wheel of the kit does, but not the reference
solution: a student's notebook runs beside the installed grader and could read it, and even
print it into its own feedback.
"""

from __future__ import annotations

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
PIP_TAIL_LINES = 15


def build_wheel(out_dir: Path, *, project: Path = PROJECT_ROOT) -> Path:
    """Build ``mnist_cnn_lab-*.whl`` from ``project`` into ``out_dir``; return its path."""
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
