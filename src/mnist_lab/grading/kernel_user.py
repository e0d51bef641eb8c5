"""Run each student's kernel as a user of its own when the grader runs as root.

A grader that runs as root (Gradescope, most containers) would otherwise run the student's
code as root too: it could then kill the sandbox that guards it and leave a process behind
to rewrite results.json, kill the grader (or, with ``os.kill(-1, ...)``, every process on
the machine), rewrite the kit's own code for the next submission, or signal another
student's kernel in a batch. So the sandbox starts the kernel as an unprivileged user id
picked for that run (`KernelUser`), with no supplementary groups and a home folder of its
own. No two kernels share a uid, even from two graders on one machine (each holds a lock
file per uid in `LOCK_FOLDER`), and a uid that a process still runs as is never picked.
That user can read what every user can (Python, the kit, TensorFlow) and write only its
own folders (its working folder, the export folder, its home); the grader's processes,
its output folder and the kit's files are out of its reach.

`prepare` hands it the folders, and copies (or links) into its reach the data the notebook
reads, MNIST and the scans, in case they sit in a folder only root can enter.

Such a user must be able to start the kit's Python. Where it cannot (pyenv keeps Python in
``/root``, which only root may enter), the first `acquire` finds out (`preflight`), logs a
warning once that says which folder blocks it and how to open it, and kernels run as the
grader's user, as they did before: grading works, less protected. Set
``MNIST_LAB_KERNEL_USER=same`` to run kernels as the grader's own user from the start; a
grader that is not root always does (it cannot switch users). The README's "Limits of
this design" says what a kernel running as the grader's user could still do.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

ENV_VAR = "MNIST_LAB_KERNEL_USER"
# User ids for kernels: above the usual accounts, below 65534 (nobody), and inside the
# 65,536 ids that a container's user namespace maps. Each run picks its own.
UID_RANGE = range(60_000, 65_000)
PREFLIGHT_TIMEOUT_S = 120
# What the kernel must be able to import, and the packages it must be able to read.
PREFLIGHT_CODE = """\
import importlib.util, sys
import ipykernel, numpy, mnist_lab
for name in ("tensorflow", "keras", "matplotlib", "pandas", "sklearn", "PIL"):
    spec = importlib.util.find_spec(name)
    if spec is not None and spec.origin:
        open(spec.origin, "rb").close()
"""

# Root's own folder of uid locks: a grader holds a lock on each uid it uses, so two graders
# on one machine (two terminals, two courses) never hand the same uid to two kernels.
LOCK_FOLDER = Path("/run/mnist-lab-kernel-users")

_taken: dict[int, int | None] = {}  # uid -> the descriptor of its lock file, if any
_lock = threading.Lock()
_preflight: dict[str, str | None] = {}


@dataclass(frozen=True)
class KernelUser:
    """The unprivileged user one run's kernel runs as (its group id is the same number)."""

    uid: int

    @property
    def gid(self) -> int:
        return self.uid


def wanted() -> bool:
    """Whether kernels run as users of their own: the grader is root and it is not turned off."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return False
    return os.environ.get(ENV_VAR, "auto").strip().lower() != "same"


def acquire() -> KernelUser | None:
    """A user id for one run: no account has it, no process runs as it, and no other run
    holds it, in this process or (through a lock file) in another grader on the machine.

    None when kernels run as the grader's own user (see `wanted`). Give it back with
    `release` when the run is over.
    """
    if not wanted():
        return None
    with _lock:
        uid, lock = _free_uid()
        _taken[uid] = lock
        if "problem" not in _preflight:
            _preflight["problem"] = preflight(KernelUser(uid))
            if _preflight["problem"] is not None:
                logger.warning("%s", _preflight["problem"])
        if _preflight["problem"] is not None:
            _give_back(uid)
            return None
    return KernelUser(uid)


def release(user: KernelUser | None) -> None:
    if user is not None:
        with _lock:
            _give_back(user.uid)


def _give_back(uid: int) -> None:
    lock = _taken.pop(uid, None)
    if lock is not None:
        os.close(lock)  # the lock goes with its descriptor


def _free_uid() -> tuple[int, int | None]:
    busy = _uids_of_processes()
    for uid in secrets.SystemRandom().sample(UID_RANGE, len(UID_RANGE)):
        if uid in _taken or uid in busy or _is_account(uid):
            continue
        lock = _lock_uid(uid)
        if lock != -1:
            return uid, lock
    raise RuntimeError(
        f"Every user id for kernels ({UID_RANGE.start}-{UID_RANGE.stop - 1}) is in use by an "
        "account, a process or another grader. End the graders or processes left running, "
        f"or set {ENV_VAR}=same to run kernels as the grader's own user."
    )


def _uids_of_processes() -> set[int]:
    """The user ids processes on the machine run as (a grader killed with its kernels
    running may have left some)."""
    uids = set()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return uids
    for entry in entries:
        if entry.isdigit():
            with contextlib.suppress(OSError):  # the process ended
                uids.add(os.stat(f"/proc/{entry}").st_uid)
    return uids


def _lock_uid(uid: int) -> int | None:
    """The descriptor of a lock on ``uid``'s lock file; -1 if another grader holds it;
    None where there is no safe place for locks (then only this process's runs are known)."""
    try:
        LOCK_FOLDER.mkdir(mode=0o700, exist_ok=True)
        folder = os.lstat(LOCK_FOLDER)
        if folder.st_uid != 0 or folder.st_mode & 0o077 or not stat.S_ISDIR(folder.st_mode):
            return None
        descriptor = os.open(LOCK_FOLDER / str(uid), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return -1
    return descriptor


def _is_account(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def prepare(user: KernelUser, folder: Path, *, writable: list[Path], home: Path) -> None:
    """Open ``folder`` to ``user`` for passing through, and give it ``writable`` and ``home``.

    ``folder`` (the run's private temporary folder) becomes 0o711: the user can reach the
    folders inside by name but cannot list it or write in it.
    """
    folder.chmod(0o711)
    home.mkdir(exist_ok=True)
    (home / "tmp").mkdir(exist_ok=True)
    for path in [*writable, home]:
        _give(path, user)


def _give(path: Path, user: KernelUser) -> None:
    os.chown(path, user.uid, user.gid, follow_symlinks=False)
    if path.is_dir() and not path.is_symlink():
        for child in path.rglob("*"):
            os.chown(child, user.uid, user.gid, follow_symlinks=False)


def readable_copy(source: Path, target: Path) -> Path:
    """``source`` at ``target`` (a hard link where possible, else a copy), readable by all.

    A link or copy of a folder is made file by file. The target lies in the run's folder,
    which a kernel's user can pass through, whatever the folders above ``source`` allow.
    """
    if source.is_dir():
        target.mkdir()
        target.chmod(0o755)
        for child in sorted(source.iterdir()):
            if child.is_file():
                readable_copy(child, target / child.name)
        return target
    try:
        os.link(source, target)
        if target.stat().st_mode & 0o004:
            return target
        target.unlink()  # a link shares the source's mode: not readable to others
    except OSError:
        pass
    shutil.copyfile(source, target)
    target.chmod(0o644)
    return target


def preflight(user: KernelUser) -> str | None:
    """None when ``user`` can start Python and read the kernel's packages; else what failed
    and how to fix it."""
    command = [sys.executable, "-I", "-c", PREFLIGHT_CODE]
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent"}
    try:
        completed = subprocess.run(
            command,
            user=user.uid,
            group=user.gid,
            extra_groups=[],
            env=environment,
            cwd="/",
            capture_output=True,
            text=True,
            timeout=PREFLIGHT_TIMEOUT_S,
        )
    except (OSError, subprocess.SubprocessError) as error:
        failure = f"{type(error).__name__}: {error}"
    else:
        if completed.returncode == 0:
            return None
        lines = completed.stderr.strip().splitlines()
        failure = lines[-1] if lines else f"exit status {completed.returncode}"
    blocked = closed_folders()
    fix = (
        f"Let other users pass through {', '.join(map(str, blocked))} (`chmod o+x ...`; "
        "this lets them reach files inside by name, not list them)"
        if blocked
        else f"Make the Python installation readable by all users (`chmod -R a+rX {sys.prefix}`)"
    )
    return (
        f"The grader runs as root, so it would run each student's kernel as an unprivileged "
        f"user of its own, but such a user (uid {user.uid}) cannot start the kit's Python "
        f"({sys.executable}): {failure}. Kernels will run as root instead, where a notebook "
        f"could kill the grader or leave a process that rewrites its results. {fix}, then "
        f"grade again; set {ENV_VAR}=same to run kernels as root without this warning."
    )


def closed_folders() -> list[Path]:
    """The folders on the way to the kit's Python that other users may not pass through."""
    python = Path(sys.executable)
    paths = {python, python.resolve(), Path(sys.prefix), Path(sys.base_prefix)}
    return sorted({folder for path in paths for folder in _closed_on_the_way(path)})


def reachable_by_kernels(folder: Path) -> bool:
    """Whether a kernel's user can reach ``folder`` (it and every folder above it let others
    pass through), and so read what in it is readable by all."""
    try:
        return not _closed_on_the_way(Path(folder).resolve())
    except OSError:
        return False


def _closed_on_the_way(path: Path) -> list[Path]:
    """The folders from the root down to ``path`` that other users may not pass through."""
    return [
        folder
        for folder in [*reversed(path.parents), path]
        if folder.is_dir() and not folder.stat().st_mode & 0o001
    ]


if __name__ == "__main__":  # the set-up step of README.md: which folders to open
    print("\n".join(str(folder) for folder in closed_folders()))
