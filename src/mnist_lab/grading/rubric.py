"""The rubric: points, visibility, thresholds, time and memory limits, from one TOML file.

`load_rubric` reads ``autograder/rubric.toml`` (or another file) into a frozen `Rubric` and
checks every value, so that a typo stops the grader with a message naming the key instead
of silently changing a student's score. Points live only in the rubric file.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from types import MappingProxyType

from mnist_lab.errors import LabError
from mnist_lab.grading.catalogue import Check, CheckFileError, catalogue
from mnist_lab.paths import kit_path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEFAULT_RUBRIC = kit_path("autograder", "rubric.toml")
VISIBILITIES = ("visible", "hidden")


class RubricError(LabError):
    """The rubric file is missing or holds a value the grader cannot use."""


# The memory limit when a rubric sets none. The tiny test lab's kernel, which holds MNIST as
# uint8 and as float64 like the solution, peaks at 1.3 GB; the reference solution, which
# also trains on all 60,000 images and trains a second model, is estimated at 2-3 GB.
DEFAULT_MEMORY_LIMIT_MB = 6144
# Below this a kernel cannot even start TensorFlow.
MIN_MEMORY_LIMIT_MB = 512
# The files a kernel may write when a rubric sets no limit. The solution writes its two
# models (about 2 and 3 MB) and the kernel's own caches a few MB more.
DEFAULT_DISK_LIMIT_MB = 1024
MIN_DISK_LIMIT_MB = 64


@dataclass(frozen=True)
class Limits:
    """Time limits, in seconds, the memory and disk limits of the student's kernel, in MB,
    and whether the kernel may reach a network (never, unless the lab needs one)."""

    cell_timeout_s: int
    notebook_timeout_s: int
    checker_timeout_s: int
    memory_limit_mb: int = DEFAULT_MEMORY_LIMIT_MB
    disk_limit_mb: int = DEFAULT_DISK_LIMIT_MB
    network: bool = False


@dataclass(frozen=True)
class Thresholds:
    """What the checks require; see autograder/rubric.toml for each value's meaning."""

    lab_accuracy: float
    improved_accuracy: float
    min_parameters: int
    max_parameters: int
    required_epochs: int
    scanned_digits_fraction: float
    # Partial credit for the lab model under lab_accuracy: (accuracy, fraction of the points).
    lab_accuracy_partial_credit: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class CheckSpec:
    """One check's entry in the rubric."""

    points: float
    visibility: str = "visible"
    extra_credit: bool = False


@dataclass(frozen=True)
class ManualSpec:
    """A part of the write-up the instructor grades by hand (an nbgrader answer cell)."""

    points: float


@dataclass(frozen=True)
class Rubric:
    """The whole rubric: `checks` maps each check's name to its points and visibility;
    `manual`, each answer the instructor grades by hand to its points (apart from the
    checks' total: no grader ever scores them)."""

    limits: Limits
    thresholds: Thresholds
    checks: Mapping[str, CheckSpec]
    source: str = ""
    check_files: tuple[Path, ...] = ()  # the instructor's own check files, resolved
    manual: Mapping[str, ManualSpec] = dataclasses.field(
        default_factory=lambda: MappingProxyType({})
    )

    @property
    def manual_points(self) -> float:
        return sum(spec.points for spec in self.manual.values())

    @property
    def catalogue(self) -> tuple[Check, ...]:
        """Every check this rubric grades with, in the order of the feedback."""
        return catalogue(self.check_files)

    def to_dict(self) -> dict:
        """Plain data, as `rubric_from_dict` reads it (the checker process receives this)."""
        return {
            "limits": asdict(self.limits),
            "thresholds": asdict(self.thresholds),
            "checks": {name: asdict(spec) for name, spec in self.checks.items()},
            "check_files": [str(path) for path in self.check_files],
            "manual": {name: asdict(spec) for name, spec in self.manual.items()},
        }


# Each threshold's kind: a fraction in [0, 1], or a whole number >= 1.
FRACTIONS = ("lab_accuracy", "improved_accuracy", "scanned_digits_fraction")
COUNTS = ("min_parameters", "max_parameters", "required_epochs")


def load_rubric(path: str | os.PathLike | None = None) -> Rubric:
    """Read and check the rubric at ``path`` (default: ``autograder/rubric.toml``).

    Raises `RubricError` naming the file and the key when anything is missing or invalid.
    """
    path = Path(path) if path is not None else DEFAULT_RUBRIC
    if not path.is_file():
        raise RubricError(
            f"No rubric at {path}. Pass --rubric PATH to a rubric file, or restore "
            f"autograder/rubric.toml from the course kit."
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise RubricError(f"{path} is not valid TOML: {error}. Fix the syntax there.") from error
    return rubric_from_dict(data, source=str(path), base=path.resolve().parent)


def rubric_from_dict(
    data: Mapping,
    *,
    source: str = "the rubric",
    base: Path | None = None,
    check_names: Sequence[str] | None = None,
) -> Rubric:
    """Build a `Rubric` from plain data, checking every value.

    ``check_files`` are read relative to ``base`` (the rubric's folder). ``check_names`` are
    the checks the rubric must cover exactly (default: those of the kit and the check files).
    """
    _only_keys(data, ("check_files", "limits", "thresholds", "checks", "manual"), source, "")
    check_files = _check_files(data.get("check_files", []), source, base)
    if check_names is None:
        try:
            check_names = [check.name for check in catalogue(check_files)]
        except CheckFileError as error:
            raise RubricError(f"{source}: {error}") from error
    limits = Limits(**_table(data, "limits", Limits, source, _limit))
    thresholds = Thresholds(**_table(data, "thresholds", Thresholds, source, _threshold))
    if thresholds.min_parameters > thresholds.max_parameters:
        raise RubricError(
            f"{source}: thresholds.min_parameters ({thresholds.min_parameters}) is larger than "
            f"thresholds.max_parameters ({thresholds.max_parameters}); swap them."
        )
    for low, _ in thresholds.lab_accuracy_partial_credit:
        if low >= thresholds.lab_accuracy:
            raise RubricError(
                f"{source}: thresholds.lab_accuracy_partial_credit gives part of the points at "
                f"{low}, not below lab_accuracy ({thresholds.lab_accuracy}), which earns all "
                "of them. Give partial credit only below lab_accuracy."
            )
    checks = _checks(data.get("checks"), source, check_names)
    manual = _manual(data.get("manual", {}), source, checks)
    return Rubric(
        limits,
        thresholds,
        MappingProxyType(checks),
        source,
        check_files,
        MappingProxyType(manual),
    )


def _check_files(value: object, source: str, base: Path | None) -> tuple[Path, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise RubricError(
            f"{source}: check_files is {value!r}; expected a list of file names, e.g. "
            '["my_checks.py"], relative to the rubric\'s folder.'
        )
    files = []
    for item in value:
        path = Path(item) if base is None else base / item
        if not path.is_file():
            raise RubricError(
                f"{source}: check_files names {item}, but there is no such file"
                + (f" in the rubric's folder ({base.name}/)." if base is not None else ".")
                + " Give each check file's path relative to the rubric."
            )
        files.append(path.resolve())
    return tuple(files)


def _only_keys(table: Mapping, allowed: Sequence[str], source: str, where: str) -> None:
    if not isinstance(table, Mapping):
        raise RubricError(f"{source}: {where or 'the file'} must be a table.")
    for key in table:
        if key not in allowed:
            raise RubricError(
                f"{source}: unknown key '{where}{key}'; expected one of {', '.join(allowed)}. "
                f"Check the spelling."
            )


def _table(data: Mapping, name: str, kind: type, source: str, check_value) -> dict:
    table = data.get(name)
    if table is None:
        raise RubricError(f"{source}: the [{name}] table is missing.")
    names = [field.name for field in fields(kind)]
    _only_keys(table, names, source, f"{name}.")
    values = {}
    for field in fields(kind):
        if field.name in table:
            values[field.name] = check_value(
                table[field.name], f"{source}: {name}.{field.name}", field.name
            )
        elif field.default is MISSING:
            raise RubricError(f"{source}: {name}.{field.name} is missing; add it to [{name}].")
    return values


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# The limits in megabytes: (the least allowed, the default, why the default is enough).
MEGABYTE_LIMITS = {
    "memory_limit_mb": (
        MIN_MEMORY_LIMIT_MB,
        DEFAULT_MEMORY_LIMIT_MB,
        "fits the reference solution twice over",
    ),
    "disk_limit_mb": (
        MIN_DISK_LIMIT_MB,
        DEFAULT_DISK_LIMIT_MB,
        "holds the reference solution's files many times over",
    ),
}


def _limit(value: object, where: str, key: str) -> int | bool:
    if key == "network":
        if not isinstance(value, bool):
            raise RubricError(
                f"{where} is {value!r}; expected true (the notebook may reach the network) or "
                "false (the default: it runs with no network)."
            )
        return value
    if key in MEGABYTE_LIMITS:
        least, default, enough = MEGABYTE_LIMITS[key]
        if not _is_whole(value) or value < least:
            raise RubricError(
                f"{where} is {value!r}; expected a whole number of megabytes of at least "
                f"{least} (the default, {default}, {enough})."
            )
        return value
    if not _is_whole(value) or value <= 0:
        raise RubricError(f"{where} is {value!r}; expected a whole number of seconds above 0.")
    return value


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _threshold(value: object, where: str, key: str) -> float | int | tuple:
    if key == "lab_accuracy_partial_credit":
        return _bands(value, where)
    if key in FRACTIONS:
        if not _is_number(value) or not 0.0 <= value <= 1.0:
            raise RubricError(
                f"{where} is {value!r}; expected a fraction between 0 and 1, e.g. 0.98."
            )
        return float(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise RubricError(f"{where} is {value!r}; expected a whole number of at least 1.")
    return value


def _bands(value: object, where: str) -> tuple[tuple[float, float], ...]:
    """[[0.97, 0.5], ...]: from that accuracy on, that fraction of the points."""
    pairs = value if isinstance(value, (list, tuple)) else None
    if pairs is None or not all(
        isinstance(pair, (list, tuple))
        and len(pair) == 2
        and all(_is_number(number) and 0.0 <= number <= 1.0 for number in pair)
        and 0.0 < pair[1] < 1.0
        for pair in pairs
    ):
        raise RubricError(
            f"{where} is {value!r}; expected a list of [accuracy, fraction of the points] "
            "pairs, each number between 0 and 1, e.g. [[0.97, 0.5]]: half the points from "
            "0.97 on. Full points stay at lab_accuracy."
        )
    return tuple((float(low), float(fraction)) for low, fraction in pairs)


def _checks(table: object, source: str, check_names: Sequence[str]) -> dict[str, CheckSpec]:
    if not isinstance(table, Mapping):
        raise RubricError(f"{source}: the [checks] tables are missing.")
    for name in table:
        if name not in check_names:
            raise RubricError(
                f"{source}: [checks.{name}] names no check; the checks are "
                f"{', '.join(check_names)}."
            )
    specs = {}
    for name in check_names:
        if name not in table:
            raise RubricError(
                f"{source}: the check {name!r} has no [checks.{name}] table; add one with its "
                f"points and visibility."
            )
        specs[name] = _check_spec(table[name], f"{source}: checks.{name}")
    return specs


def _check_spec(entry: object, where: str) -> CheckSpec:
    _only_keys(entry, ("points", "visibility", "extra_credit"), where, "")
    points = entry.get("points")
    if not _is_number(points) or not math.isfinite(points) or points < 0:
        raise RubricError(f"{where}.points is {points!r}; expected a number of points >= 0.")
    visibility = entry.get("visibility", "visible")
    if visibility not in VISIBILITIES:
        raise RubricError(
            f"{where}.visibility is {visibility!r}; expected one of {', '.join(VISIBILITIES)}."
        )
    extra_credit = entry.get("extra_credit", False)
    if not isinstance(extra_credit, bool):
        raise RubricError(f"{where}.extra_credit is {extra_credit!r}; expected true or false.")
    return CheckSpec(float(points), visibility, extra_credit)


def _manual(table: object, source: str, checks: Mapping[str, CheckSpec]) -> dict[str, ManualSpec]:
    """[manual.NAME] tables: the answers graded by hand, each with its points."""
    if not isinstance(table, Mapping):
        raise RubricError(
            f"{source}: manual must hold one table per answer, e.g. [manual.design_notes] "
            "with points = 5."
        )
    specs = {}
    for name, entry in table.items():
        where = f"{source}: manual.{name}"
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise RubricError(
                f"{where}: the name must be the answer cell's nbgrader grade_id, letters, "
                "digits and underscores, e.g. design_notes."
            )
        if name in checks:
            raise RubricError(
                f"{where}: {name!r} is also a check's name; give the answer another name."
            )
        _only_keys(entry, ("points",), where, "")
        points = entry.get("points")
        if not _is_number(points) or not math.isfinite(points) or points < 0:
            raise RubricError(f"{where}.points is {points!r}; expected a number of points >= 0.")
        specs[name] = ManualSpec(float(points))
    return specs
