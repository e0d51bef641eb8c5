"""Shared fixtures for the deploy tests: the autograder zip, installed kits, notebooks.

`autograder_zip` builds the zip once per session with ``mnist-lab gradescope-zip``, as an
instructor would; `kit_wheel` is the wheel inside it. `installed_kit` unpacks the zip and
runs its setup.sh, so that run_autograder grades with the kit installed from the zip's wheel,
not with this checkout. Each installed kit lives in a new virtualenv made without this
project's .venv (`new_venv`), so that its mnist_lab is the wheel's, never the editable
install. The one liberty taken: pip installs the wheel without its dependencies (no
TensorFlow download in a test); they come from .venv through a .pth file in the new
virtualenv, which adds .venv's site-packages (a folder only: the editable install's own .pth
there is not read) after the virtualenv's own, where the wheel's mnist_lab lies.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The message the quick submission raises with, in its first cell.
QUICK_FAILURE = "RuntimeError: the student stopped here"


def quick_notebook(path: Path, error: str = QUICK_FAILURE) -> Path:
    """A lab notebook whose first cell raises: graded to 0 in seconds, no training."""
    kind, _, message = error.partition(": ")
    notebook = new_notebook(
        cells=[new_code_cell(f"raise {kind}({message!r})"), new_code_cell("notes = 'unfinished'")]
    )
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def unpack(archive: Path, folder: Path) -> None:
    """Unzip as Gradescope does (``unzip``), keeping each entry's permissions."""
    with zipfile.ZipFile(archive) as opened:
        for info in opened.infolist():
            target = Path(opened.extract(info, folder))
            target.chmod(stat.S_IMODE(info.external_attr >> 16))


@pytest.fixture(scope="session")
def zip_build(tmp_path_factory, mnist_path) -> tuple[Path, str]:
    """The autograder zip built by the command line, and what the command printed."""
    out = tmp_path_factory.mktemp("gradescope") / "autograder.zip"
    command = [sys.executable, "-m", "mnist_lab", "--mnist", str(mnist_path)]
    command += ["gradescope-zip", "--out", str(out)]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert completed.returncode == 0, completed.stderr
    return out, completed.stdout


@pytest.fixture(scope="session")
def autograder_zip(zip_build) -> Path:
    return zip_build[0]


@pytest.fixture(scope="session")
def kit_wheel(tmp_path_factory, autograder_zip) -> Path:
    """The kit's wheel, as the autograder zip ships it."""
    with zipfile.ZipFile(autograder_zip) as opened:
        (name,) = [name for name in opened.namelist() if name.endswith(".whl")]
        return Path(opened.extract(name, tmp_path_factory.mktemp("wheel")))


def site_packages(venv: Path) -> Path:
    return Path(sysconfig.get_paths(vars={"base": str(venv)})["purelib"])


def new_venv(venv: Path) -> Path:
    """A virtualenv without this project's packages, whose dependencies come from .venv."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site_packages(venv) / "kit_dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n"
    )
    return venv


# pip with no index and no dependencies: installs only the wheel it is given.
OFFLINE_PIP = {"PIP_NO_DEPS": "1", "PIP_NO_INDEX": "1"}


@pytest.fixture(scope="session")
def installed_kit(tmp_path_factory, autograder_zip) -> Path:
    """A folder with source/ (the unpacked zip) and venv/ (made by the zip's setup.sh)."""
    root = tmp_path_factory.mktemp("installed")
    unpack(autograder_zip, root / "source")
    new_venv(root / "venv")
    environment = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(root),
        "AUTOGRADER_ROOT": str(root),
        **OFFLINE_PIP,
    }
    completed = subprocess.run(
        ["bash", str(root / "source" / "setup.sh")],
        capture_output=True,
        text=True,
        env=environment,
        cwd=root / "source",
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return root


@pytest.fixture
def autograder_root(tmp_path, installed_kit) -> Path:
    """A fresh /autograder: a copy of source/, the installed venv, empty submission/."""
    root = tmp_path / "autograder"
    shutil.copytree(installed_kit / "source", root / "source")
    (root / "venv").symlink_to(installed_kit / "venv")
    (root / "submission").mkdir()
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    return root


def run_autograder(root: Path, path: str = "/usr/bin:/bin") -> subprocess.CompletedProcess:
    """Run ``root/run_autograder`` as Gradescope does: from ``root``, no MNIST_PATH set."""
    environment = {"PATH": path, "HOME": str(root), "AUTOGRADER_ROOT": str(root)}
    environment.update({key: os.environ[key] for key in ("LANG", "TMPDIR") if key in os.environ})
    return subprocess.run(
        [str(root / "run_autograder")], capture_output=True, text=True, env=environment, cwd=root
    )
