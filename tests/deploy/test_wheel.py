"""The kit's wheels carry the kit's files themselves, and an installed kit finds them there.

Two wheels: the one pip builds from the kit's repository (``pip install git+https://...``, or
a release), from a copy of the repository in which kit/ still holds links; and the graders'
wheel that the autograder zip ships (`build_wheel`), which leaves the reference solution out.
`installed_kit` has the graders' wheel installed, not in editable mode, by the zip's
setup.sh, in a virtualenv that cannot see this checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mnist_lab.assignment import TEMPLATE_NOTEBOOK
from mnist_lab.grading.catalogue import BUILTIN_FILES
from mnist_lab.grading.rubric import DEFAULT_RUBRIC
from mnist_lab.paths import KIT_DIR, PROJECT_ROOT, SAMPLE_IMAGES, SOLUTION_NOTEBOOK
from tests.deploy.conftest import site_packages

KIT = "mnist_lab/kit"
SOLUTION = "solution/mnist_cnn_lab.ipynb"
JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")


def kit_files() -> dict[str, Path]:
    """The kit's files, by their path under kit/, and the repository's file each must equal."""
    files = {
        "autograder/rubric.toml": DEFAULT_RUBRIC,
        SOLUTION: SOLUTION_NOTEBOOK,
        "assignment/mnist_cnn_lab.ipynb": TEMPLATE_NOTEBOOK,
    }
    files.update({f"sample_images/{path.name}": path for path in SAMPLE_IMAGES.iterdir()})
    files.update(
        {f"autograder/{name}": PROJECT_ROOT / "autograder" / name for name in BUILTIN_FILES}
    )
    return files


def copy_of_the_repository(folder: Path) -> Path:
    """What a clone holds for the build: src/ with kit/'s links, what they lead to, metadata."""
    shutil.copytree(PROJECT_ROOT / "src", folder / "src", symlinks=True, ignore=JUNK)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(PROJECT_ROOT / name, folder / name)
    for parent, folders, files in os.walk(KIT_DIR):
        for link in (Path(parent, name) for name in folders + files):
            if link.is_symlink():
                target = link.resolve()
                place = folder / target.relative_to(PROJECT_ROOT)
                place.parent.mkdir(parents=True, exist_ok=True)
                copy = shutil.copytree if target.is_dir() else shutil.copy2
                copy(target, place)
    return folder


@pytest.fixture(scope="module")
def repository_wheel(tmp_path_factory) -> Path:
    """The wheel pip builds from the kit's repository (its build backend from the index)."""
    source = copy_of_the_repository(tmp_path_factory.mktemp("repository"))
    assert (source / "src" / KIT / "sample_images").is_symlink()
    out = tmp_path_factory.mktemp("repository-wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet"]
    completed = subprocess.run([*command, "--wheel-dir", out, source], capture_output=True)
    assert completed.returncode == 0, completed.stderr.decode(errors="replace")
    (wheel,) = out.glob("mnist_cnn_lab-*.whl")
    return wheel


def kit_entries(wheel: Path) -> dict[str, bytes]:
    """What the wheel holds under kit/, each checked to be a plain file, not a link."""
    with zipfile.ZipFile(wheel) as opened:
        entries = [info for info in opened.infolist() if info.filename.startswith(f"{KIT}/")]
        for info in entries:
            assert stat.S_ISREG(info.external_attr >> 16), f"{info.filename} is not a file"
        return {info.filename.removeprefix(f"{KIT}/"): opened.read(info) for info in entries}


def test_a_wheel_of_the_repository_carries_every_kit_file_with_its_bytes(repository_wheel):
    expected = kit_files()
    assert "sample_images/labels.csv" in expected and len(expected) > 40
    entries = kit_entries(repository_wheel)
    assert set(entries) == set(expected)
    for name, data in entries.items():
        assert data == expected[name].read_bytes(), name


def test_the_graders_wheel_carries_them_all_but_the_reference_solution(kit_wheel):
    expected = kit_files()
    del expected[SOLUTION]
    entries = kit_entries(kit_wheel)
    assert set(entries) == set(expected)
    for name, data in entries.items():
        assert data == expected[name].read_bytes(), name


FIND_DEFAULTS = """
import json
from mnist_lab.assignment import TEMPLATE_NOTEBOOK
from mnist_lab.grading.rubric import DEFAULT_RUBRIC, load_rubric
from mnist_lab.paths import SOLUTION_NOTEBOOK, sample_images_dir
load_rubric()
print(json.dumps({
    "autograder/rubric.toml": str(DEFAULT_RUBRIC),
    "solution/mnist_cnn_lab.ipynb": str(SOLUTION_NOTEBOOK),
    "assignment/mnist_cnn_lab.ipynb": str(TEMPLATE_NOTEBOOK),
    "sample_images/labels.csv": str(sample_images_dir() / "labels.csv"),
}))
"""


def test_an_installed_kit_finds_its_files_in_its_site_packages(installed_kit, tmp_path):
    venv = installed_kit / "venv"
    completed = subprocess.run(
        [venv / "bin" / "python", "-c", FIND_DEFAULTS],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},  # no MNIST_LAB_SAMPLES
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stderr
    found = {name: Path(path) for name, path in json.loads(completed.stdout).items()}
    for name, path in found.items():
        assert path == (site_packages(venv) / KIT / name).resolve()
    assert not found.pop(SOLUTION).exists()  # the graders' wheel leaves it out
    expected = kit_files()
    for name, path in found.items():
        assert path.is_file() and not path.is_symlink(), path
        assert path.read_bytes() == expected[name].read_bytes(), name
