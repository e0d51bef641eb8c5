"""``mnist-lab gradescope-zip``: the autograder zip that Gradescope builds its grading image from.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` once to build the
image, and ``run_autograder`` for every submission. The zip is self-contained, because the
grader never downloads anything: at its root,

- ``setup.sh`` and ``run_autograder`` (executable), from this package's templates;
- the kit as a wheel built from this checkout, without the reference solution (`wheel`),
  which setup.sh installs;
- ``rubric.toml``, the scans folder ``sample_images/`` with its ``labels.csv``, and
  ``mnist.npz``, each checked here first (the rubric read, the scans' manifest validated,
  MNIST's SHA-256 verified), so that a mistake stops the build rather than every student's
  grading. The wheel carries the kit's own rubric and scans too, but the zip ships the ones
  chosen here (``--rubric``, ``--samples``), and the grader is told to use those.

The zip is written to a temporary file beside ``out`` and moved into place when complete.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mnist_lab.data import MnistDataError, locate_mnist, read_mnist_file
from mnist_lab.deploy import template
from mnist_lab.deploy.autograder import (
    MNIST_FILE,
    RUBRIC_FILE,
    RUN_SCRIPT,
    SAMPLES_FOLDER,
    SETUP_SCRIPT,
)
from mnist_lab.deploy.wheel import build_wheel
from mnist_lab.errors import LabError
from mnist_lab.grading.rubric import DEFAULT_RUBRIC, Limits, load_rubric, tomllib
from mnist_lab.paths import sample_images_dir
from mnist_lab.scans.manifest import MANIFEST_NAME, read_manifest, validate_directory

logger = logging.getLogger(__name__)

DEFAULT_ZIP = Path("build") / "gradescope" / "autograder.zip"
EXECUTABLE = 0o755
REGULAR = 0o644
# Files that deflate would not make smaller.
COMPRESSED_SUFFIXES = frozenset({".whl", ".npz", ".png", ".jpg", ".jpeg", ".gif", ".webp"})


@dataclass(frozen=True)
class Member:
    """One file of the zip: its name there, its bytes and its Unix permissions."""

    name: str
    data: bytes
    mode: int = REGULAR

    @property
    def size(self) -> int:
        return len(self.data)


def build_gradescope_zip(
    *,
    out: str | os.PathLike = DEFAULT_ZIP,
    rubric: str | os.PathLike | None = None,
    samples_dir: str | os.PathLike | None = None,
    mnist_path: str | os.PathLike | None = None,
) -> list[Member]:
    """Write the autograder zip to ``out``; return what went into it.

    ``rubric`` defaults to the kit's rubric, ``samples_dir`` to the kit's scans
    (``$MNIST_LAB_SAMPLES``, else sample_images/), ``mnist_path`` to where ``mnist-lab grade``
    looks (``$MNIST_PATH``, else the Keras cache). Raises `LabError` when one is missing or
    wrong, before anything is written.
    """
    out = Path(out)
    members = [
        Member(SETUP_SCRIPT, template(SETUP_SCRIPT), EXECUTABLE),
        Member(RUN_SCRIPT, template(RUN_SCRIPT), EXECUTABLE),
        *rubric_members(rubric),
        mnist_member(mnist_path),
        *sample_members(samples_dir),
    ]
    with tempfile.TemporaryDirectory(prefix="mnist-lab-gradescope-") as scratch:
        wheel = build_wheel(Path(scratch))
        members.insert(2, Member(wheel.name, wheel.read_bytes()))
    write_zip(out, members)
    logger.debug("Wrote %s", out)
    return members


def longest_grading_s(limits: Limits) -> int:
    """The longest one grading may take under the rubric's limits, in seconds.

    The checker's start and its checks each have ``checker_timeout_s``, the notebook
    ``notebook_timeout_s``. Gradescope's own timeout must be longer, or it stops a slow
    submission before the grader can write any results.
    """
    return limits.notebook_timeout_s + 2 * limits.checker_timeout_s


def rubric_members(rubric: str | os.PathLike | None) -> list[Member]:
    """The rubric file as it is, once it has been read and checked, and its check files
    under the names it gives them (beside it, as on the instructor's machine)."""
    path = Path(rubric) if rubric is not None else DEFAULT_RUBRIC
    loaded = load_rubric(path)
    members = [Member(RUBRIC_FILE, path.read_bytes())]
    names = tomllib.loads(path.read_text(encoding="utf-8")).get("check_files", [])
    for name, check_file in zip(names, loaded.check_files, strict=True):
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts:
            raise LabError(
                f"{path.name} names the check file {name}, outside the rubric's folder; the "
                "zip keeps the rubric's folder only. Move the file beside the rubric (or "
                "below it) and name it relative to the rubric."
            )
        members.append(Member(str(relative), check_file.read_bytes()))
    return members


def mnist_member(mnist_path: str | os.PathLike | None) -> Member:
    """The local mnist.npz, found as ``mnist-lab grade`` finds it, and verified."""
    path = locate_mnist(mnist_path)
    if path is None:
        raise LabError(
            "No local mnist.npz to put in the autograder zip (no --mnist, no $MNIST_PATH, "
            "nothing in the Keras cache). The zip must carry MNIST because grading never "
            "downloads it: pass --mnist PATH or set MNIST_PATH to a copy of mnist.npz."
        )
    try:
        read_mnist_file(path)
    except MnistDataError as error:
        raise LabError(f"Cannot put {path} in the autograder zip: {error}") from error
    return Member(MNIST_FILE, path.read_bytes())


def sample_members(samples_dir: str | os.PathLike | None) -> list[Member]:
    """``labels.csv`` and every image it lists, once the folder has been validated."""
    directory = Path(samples_dir) if samples_dir is not None else sample_images_dir()
    problems = validate_directory(directory)
    if problems:
        listing = "\n".join(f"  - {problem}" for problem in problems)
        raise LabError(
            f"The scans in {directory} cannot go into the autograder zip:\n{listing}\n"
            f"Fix them (`mnist-lab check-images {directory}` lists the problems) or pass "
            "--samples DIR with a valid folder."
        )
    files = [directory / MANIFEST_NAME, *(sample.path for sample in read_manifest(directory))]
    return [
        Member(f"{SAMPLES_FOLDER}/{path.relative_to(directory).as_posix()}", path.read_bytes())
        for path in files
    ]


def write_zip(out: Path, members: list[Member]) -> None:
    """Write ``members`` to a temporary file beside ``out``, then move it into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = out.parent / f".{out.name}.{os.getpid()}.partial"
    now = time.localtime()[:6]
    try:
        with zipfile.ZipFile(staged, "w") as archive:
            for member in members:
                info = zipfile.ZipInfo(member.name, date_time=now)
                info.create_system = 3  # Unix, so that unzip applies the permissions
                info.external_attr = (0o100000 | member.mode) << 16
                info.compress_type = _compression(member.name)
                archive.writestr(info, member.data)
        os.replace(staged, out)
    finally:
        staged.unlink(missing_ok=True)


def _compression(name: str) -> int:
    suffix = Path(name).suffix.lower()
    return zipfile.ZIP_STORED if suffix in COMPRESSED_SUFFIXES else zipfile.ZIP_DEFLATED
