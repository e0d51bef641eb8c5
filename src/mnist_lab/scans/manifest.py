"""A folder of labelled digit images: ``labels.csv`` beside the images.

The manifest is a CSV file named ``labels.csv`` with a header row and at least the columns
``file`` (the image's name, relative to the folder) and ``label`` (the digit 0-9). Other
columns (``source``, ``notes``, ...) are allowed and ignored::

    file,label,source,notes
    7_barred_1.png,7,class of 2025,blue ballpoint on lined paper

`read_manifest` returns the samples or raises `ManifestError` listing every problem at once,
so that a folder can be fixed in one pass; `validate_directory` returns the problems instead,
and also reports images in the folder that the manifest does not list.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

MANIFEST_NAME = "labels.csv"
REQUIRED_COLUMNS = ("file", "label")
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
LABELS = frozenset(range(10))


class ManifestError(ValueError):
    """A folder's ``labels.csv`` is missing or wrong; ``problems`` lists every problem found."""

    def __init__(self, directory: Path, problems: list[str]) -> None:
        self.directory = directory
        self.problems = list(problems)
        listing = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(
            f"{len(self.problems)} problem(s) with the labelled images in {directory}:\n"
            f"{listing}\nExpected a file {MANIFEST_NAME} there with the columns "
            f"{', '.join(REQUIRED_COLUMNS)} (one row per image, labels 0-9)."
        )


@dataclass(frozen=True)
class Sample:
    """One labelled image: its path and the digit written in it."""

    path: Path
    label: int


def read_manifest(directory: str | os.PathLike) -> list[Sample]:
    """The samples listed in ``directory/labels.csv``, in file order.

    Raises `ManifestError` listing all problems: a missing manifest or column, labels that are
    not 0-9, files listed twice or missing from the folder.
    """
    directory = Path(directory)
    samples, problems, _ = _parse(directory)
    if problems:
        raise ManifestError(directory, problems)
    return samples


def validate_directory(directory: str | os.PathLike) -> list[str]:
    """Every problem with a labelled folder (an empty list when it is valid).

    Besides `read_manifest`'s problems, reports images in the folder that are not listed.
    """
    directory = Path(directory)
    _, problems, listed = _parse(directory)
    if not (directory / MANIFEST_NAME).is_file():
        return problems
    for path in sorted(directory.iterdir()):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.name not in listed:
            problems.append(
                f"{path.name} is in the folder but not in {MANIFEST_NAME}: add a row for it "
                "(file,label) or move it out."
            )
    return problems


def _parse(directory: Path) -> tuple[list[Sample], list[str], set[str]]:
    """The usable samples, every problem, and every file name the manifest lists."""
    manifest = directory / MANIFEST_NAME
    if not directory.is_dir():
        return [], [f"{directory} is not a folder: pass the folder that holds the images."], set()
    if not manifest.is_file():
        return (
            [],
            [
                f"no {MANIFEST_NAME} in {directory}: create it with a header row 'file,label' and "
                "one row per image."
            ],
            set(),
        )
    with manifest.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = [name.strip() for name in reader.fieldnames or []]
        missing = [name for name in REQUIRED_COLUMNS if name not in columns]
        if missing:
            return (
                [],
                [
                    f"{MANIFEST_NAME} has no column(s) {', '.join(missing)} (its header is "
                    f"{','.join(columns) or 'empty'}); the first row must name the columns, "
                    "e.g. 'file,label'."
                ],
                set(),
            )
        reader.fieldnames = columns
        samples: list[Sample] = []
        problems: list[str] = []
        first_line: dict[str, int] = {}
        for row in reader:
            line = reader.line_num
            sample, row_problems = _parse_row(directory, row, line, first_line)
            problems.extend(row_problems)
            if sample is not None:
                samples.append(sample)
    if not samples and not problems:
        problems.append(f"{MANIFEST_NAME} lists no images: add one row per image.")
    return samples, problems, set(first_line)


def _parse_row(
    directory: Path, row: dict[str, str | None], line: int, first_line: dict[str, int]
) -> tuple[Sample | None, list[str]]:
    """One manifest row as a sample (None when unusable) and its problems."""
    where = f"{MANIFEST_NAME} line {line}"
    name = (row.get("file") or "").strip()
    label_text = (row.get("label") or "").strip()
    problems = []
    if not name:
        return None, [f"{where}: the file column is empty; give the image's file name."]
    if name in first_line:
        problems.append(
            f"{where}: {name} is listed again (first on line {first_line[name]}); each image "
            "must appear once."
        )
    else:
        first_line[name] = line
    if not (directory / name).is_file():
        problems.append(f"{where}: {name} is listed but not in {directory}; check the name.")
    label = int(label_text) if label_text.isdigit() else None
    if label not in LABELS:
        problems.append(f"{where}: label {label_text!r} for {name} is not a digit 0-9.")
    if problems:
        return None, problems
    return Sample(path=directory / name, label=label), []
