"""Labelled folders: labels.csv read into samples, and every problem reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from mnist_lab.scans.manifest import (
    MANIFEST_NAME,
    ManifestError,
    Sample,
    read_manifest,
    validate_directory,
)


def make_folder(tmp: Path, manifest: str | None, images: tuple[str, ...] = ("a.png", "b.jpg")):
    """A folder holding small images named ``images`` and, unless None, ``manifest``."""
    for name in images:
        Image.new("L", (16, 16), 255).save(tmp / name)
    if manifest is not None:
        (tmp / MANIFEST_NAME).write_text(manifest, encoding="utf-8")
    return tmp


def test_reads_samples_in_order_with_extra_columns(tmp_path):
    folder = make_folder(
        tmp_path, "file,label,source,notes\nb.jpg,7,class A,blue pen\na.png,0,class B,\n"
    )
    assert read_manifest(folder) == [Sample(folder / "b.jpg", 7), Sample(folder / "a.png", 0)]
    assert validate_directory(folder) == []


def test_accepts_a_byte_order_mark_and_spaces(tmp_path):
    """Spreadsheets save CSV with a BOM; people type spaces after commas."""
    folder = make_folder(tmp_path, "\ufefffile, label\n a.png , 3\nb.jpg,4\n")
    assert [sample.label for sample in read_manifest(folder)] == [3, 4]


def test_samples_are_frozen(tmp_path):
    sample = Sample(tmp_path / "a.png", 1)
    with pytest.raises(AttributeError):
        sample.label = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        pytest.param(None, "no labels.csv", id="missing-manifest"),
        pytest.param("name,digit\na.png,1\n", "no column(s) file, label", id="missing-columns"),
        pytest.param("file,notes\na.png,x\n", "no column(s) label", id="missing-label-column"),
        pytest.param("", "no column(s) file, label", id="empty-manifest"),
        pytest.param("file,label\n", "lists no images", id="no-rows"),
        pytest.param("file,label\na.png,10\nb.jpg,4\n", "label '10'", id="label-too-big"),
        pytest.param("file,label\na.png,-1\nb.jpg,4\n", "label '-1'", id="label-negative"),
        pytest.param("file,label\na.png,seven\nb.jpg,4\n", "label 'seven'", id="label-a-word"),
        pytest.param("file,label\na.png,\nb.jpg,4\n", "label ''", id="label-empty"),
        pytest.param("file,label\nc.png,1\n", "c.png is listed but not in", id="file-missing"),
        pytest.param("file,label\n,1\n", "the file column is empty", id="file-empty"),
        pytest.param(
            "file,label\na.png,1\nb.jpg,2\na.png,1\n", "listed again (first on line 2)", id="dup"
        ),
    ],
)
def test_problems_raise_manifest_error_with_a_clear_message(manifest, message, tmp_path):
    folder = make_folder(tmp_path, manifest)
    with pytest.raises(ManifestError) as raised:
        read_manifest(folder)
    assert isinstance(raised.value, ValueError)
    assert message in str(raised.value)
    assert "Expected a file labels.csv" in str(raised.value)
    assert any(message in problem for problem in validate_directory(folder))


def test_all_problems_are_listed_together(tmp_path):
    folder = make_folder(tmp_path, "file,label\na.png,11\nghost.png,2\nb.jpg,3\nb.jpg,3\na.png,x\n")
    with pytest.raises(ManifestError) as raised:
        read_manifest(folder)
    problems = raised.value.problems
    assert len(problems) == 5, problems
    for expected in ("label '11'", "ghost.png is listed", "line 5: b.jpg is listed again",
                     "line 6: a.png is listed again", "label 'x'"):  # fmt: skip
        assert any(expected in problem for problem in problems), expected
        assert expected in str(raised.value)


def test_validate_directory_reports_unlisted_images(tmp_path):
    folder = make_folder(tmp_path, "file,label\na.png,1\n", images=("a.png", "b.jpg", "c.PNG"))
    (folder / "README.md").write_text("not an image")
    problems = validate_directory(folder)
    assert len(problems) == 2
    assert "b.jpg is in the folder but not in labels.csv" in problems[0]
    assert "c.PNG" in problems[1]
    assert read_manifest(folder) == [Sample(folder / "a.png", 1)]


def test_not_a_folder_is_reported(tmp_path):
    problems = validate_directory(tmp_path / "nowhere")
    assert problems and "is not a folder" in problems[0]


def test_a_badly_labelled_image_is_not_also_called_unlisted(tmp_path):
    folder = make_folder(tmp_path, "file,label\na.png,11\n", images=("a.png",))
    problems = validate_directory(folder)
    assert len(problems) == 1, problems
    assert "label '11' for a.png" in problems[0]
