"""`mnist_lab.paths` in a checkout: kit/ links to the repository's files, each kept once.

An installed wheel, where kit/ holds the files themselves, is tested in tests/deploy/test_wheel.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mnist_lab.assignment import TEMPLATE_NOTEBOOK
from mnist_lab.grading.catalogue import BUILTIN_FILES
from mnist_lab.grading.rubric import DEFAULT_RUBRIC
from mnist_lab.paths import (
    KIT_DIR,
    PROJECT_ROOT,
    SAMPLES_ENV_VAR,
    SOLUTION_NOTEBOOK,
    sample_images_dir,
)


def kit_entries() -> list[Path]:
    """What kit/ holds besides its own folders, without following its links."""
    entries = []
    for folder, folders, files in os.walk(KIT_DIR):
        entries += [Path(folder, name) for name in files]
        entries += [Path(folder, name) for name in folders if Path(folder, name).is_symlink()]
    return sorted(entries)


def test_kit_holds_only_relative_links_to_the_same_place_in_the_repository():
    entries = kit_entries()
    assert len(entries) == 4 + len(BUILTIN_FILES)  # the check files too
    for entry in entries:
        assert entry.is_symlink(), f"{entry} is a copy; link it to the repository's file"
        assert not Path(os.readlink(entry)).is_absolute(), entry
        assert entry.resolve() == PROJECT_ROOT / entry.relative_to(KIT_DIR), entry
        assert entry.exists(), f"{entry} is a broken link"


@pytest.mark.parametrize(
    ("default", "source"),
    [
        (DEFAULT_RUBRIC, "autograder/rubric.toml"),
        (SOLUTION_NOTEBOOK, "solution/mnist_cnn_lab.ipynb"),
        (TEMPLATE_NOTEBOOK, "assignment/mnist_cnn_lab.ipynb"),
    ],
)
def test_each_default_is_the_repository_s_file(default, source):
    assert default == PROJECT_ROOT / source
    assert not default.is_symlink()  # written through, e.g. by make-assignment


def test_the_scans_are_the_repository_s_unless_the_environment_names_others(monkeypatch, tmp_path):
    monkeypatch.delenv(SAMPLES_ENV_VAR, raising=False)
    assert sample_images_dir() == PROJECT_ROOT / "sample_images"
    monkeypatch.setenv(SAMPLES_ENV_VAR, str(tmp_path))
    assert sample_images_dir(must_exist=False) == tmp_path
