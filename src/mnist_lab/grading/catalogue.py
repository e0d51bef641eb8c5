"""The checks: pytest test functions in check files, found without running them.

Each check is a function ``test_NAME`` in a check file: the kit's own files in
``autograder/`` (`BUILTIN_FILES`, in the order of the feedback), then the files a rubric
names with ``check_files``. Its parameters are pytest fixtures: the grader's own
(`contract.GRADER_FIXTURES`) and any top-level name of the notebook. The first line of its
docstring is its title.

The files are read here as syntax trees, never imported: the grader process learns the
checks' names, titles and the names they ask for (so the export cell exports exactly those)
without running an instructor's code. The checker process imports them (`checker.suite`).
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from mnist_lab.contract import GRADER_FIXTURES, LAB_NAMES, notebook_name
from mnist_lab.errors import LabError
from mnist_lab.paths import kit_path

BUILTIN_FILES = (
    "test_data.py",
    "test_model.py",
    "test_training.py",
    "test_scans.py",
    "test_outputs.py",
    "test_bonus.py",
)
PREFIX = "test_"


class CheckFileError(LabError):
    """A check file is missing, unreadable or not valid Python, or two checks share a name."""


@dataclass(frozen=True)
class Check:
    """One check: ``test_NAME`` in ``path``."""

    name: str
    title: str
    path: Path
    fixtures: tuple[str, ...]  # its parameters, in order

    @property
    def function(self) -> str:
        return PREFIX + self.name

    @property
    def builtin(self) -> bool:
        return self.path.parent == builtin_dir()

    @property
    def notebook_names(self) -> tuple[str, ...]:
        """The notebook's names this check reads (``scan_outputs`` is ``preprocess_scan``)."""
        return tuple(
            notebook_name(f)
            for f in self.fixtures
            if f not in GRADER_FIXTURES or f == "scan_outputs"
        )


def builtin_dir() -> Path:
    return kit_path("autograder")


def read_check_file(path: Path) -> tuple[Check, ...]:
    """The checks of one file, in the file's order."""
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CheckFileError(
            f"The check file {path.name} could not be read ({type(error).__name__}: {error}). "
            "Check the path in the rubric's check_files, relative to the rubric's folder."
        ) from error
    try:
        tree = ast.parse(source, filename=path.name)
    except SyntaxError as error:
        raise CheckFileError(
            f"The check file {path.name} is not valid Python: {error.msg} (line {error.lineno}). "
            "Fix it before grading."
        ) from error
    checks = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith(PREFIX):
            arguments = node.args
            with_defaults = len(arguments.defaults)
            positional = [a.arg for a in arguments.posonlyargs + arguments.args]
            fixtures = (
                positional[: len(positional) - with_defaults] if with_defaults else positional
            )
            fixtures += [
                a.arg
                for a, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
                if default is None
            ]
            docstring = ast.get_docstring(node) or ""
            name = node.name.removeprefix(PREFIX)
            title = (docstring.strip().splitlines() or [name])[0].rstrip(".")
            checks.append(Check(name, title, path, tuple(fixtures)))
    if not checks:
        raise CheckFileError(
            f"The check file {path.name} holds no check: a check is a function named "
            "test_NAME at the top level of the file."
        )
    return tuple(checks)


@cache
def _catalogue(files: tuple[Path, ...]) -> tuple[Check, ...]:
    checks: list[Check] = []
    seen: dict[str, Path] = {}
    for path in files:
        for check in read_check_file(path):
            if check.name in seen:
                raise CheckFileError(
                    f"Two checks are called {check.name}: test_{check.name} in "
                    f"{seen[check.name].name} and in {path.name}. Rename one of them."
                )
            seen[check.name] = path
            checks.append(check)
    return tuple(checks)


def catalogue(check_files: Sequence[Path] = ()) -> tuple[Check, ...]:
    """The kit's checks, then those of ``check_files``, in order."""
    builtin = tuple(builtin_dir() / name for name in BUILTIN_FILES)
    return _catalogue(builtin + tuple(Path(p).resolve() for p in check_files))


def export_names(checks: Sequence[Check]) -> tuple[str, ...]:
    """Every name of the notebook the checks read: the lab's contract, then any other."""
    extra = sorted({n for c in checks for n in c.notebook_names} - set(LAB_NAMES))
    return (*LAB_NAMES, *extra)


def extra_names(checks: Sequence[Check]) -> tuple[str, ...]:
    """The names the checks read that the lab's contract does not define."""
    return export_names(checks)[len(LAB_NAMES) :]


CHECK_NAMES = tuple(check.name for check in catalogue())
