"""`grade_submission`: run a student's notebook in isolation and grade it in a clean process.

The steps, in this order for a reason:

1. read the rubric, find MNIST and the supplied scans (a problem here is the grader's, and
   raises before anything runs);
2. start the checker process (`checker`) and let it load everything it will use;
3. run the notebook in its own kernel, in a private temporary folder, behind `sandbox`
   (which holds it to the rubric's memory limit, ends any process the notebook leaves
   behind, and reports why the kernel ended), as a user of its own when the grader is root
   (`kernel_user`); its first cell waits for the checker to be ready, so no student code
   runs before the grader's code and data are in memory;
4. export the lab's artefacts from the kernel (`export`), with rows picked at random now;
5. ask the checker for the results, signed with this run's key (`protocol`);
6. write results.json (Gradescope), junit.xml, feedback.md and feedback.html, each file
   written whole and moved into place, after the kernel and everything it started are gone.

A notebook that fails, raises, exits or lies is graded, never crashes the grader: only a
grader-side problem raises (`GradingError` or another `LabError`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import queue
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import nbformat

from mnist_lab.contract import SPLIT_SIZES
from mnist_lab.data import ENV_VAR as MNIST_ENV_VAR
from mnist_lab.data import locate_mnist
from mnist_lab.errors import LabError
from mnist_lab.grading import kernel_user, protocol, sandbox
from mnist_lab.grading.catalogue import extra_names
from mnist_lab.grading.feedback import render_html, render_markdown
from mnist_lab.grading.kernel.export import export_cell
from mnist_lab.grading.results import CellError, CheckResult, GradingResults, ManualAnswer
from mnist_lab.grading.rubric import ManualSpec, Rubric, load_rubric
from mnist_lab.grading.scoring import all_failed
from mnist_lab.notebook.execute import (
    REPAIRS_KEY,
    ExecutedNotebook,
    execute_notebook,
    is_extra_cell,
    read_notebook,
)
from mnist_lab.notebook.inspect import cell_seconds
from mnist_lab.notebook.output_limits import MAX_CELL_OUTPUT, MAX_NOTEBOOK_OUTPUT, MB
from mnist_lab.notebook.record import answer_cells, is_written
from mnist_lab.paths import SAMPLE_IMAGES, sample_images_dir
from mnist_lab.scans import ManifestError, Sample, read_manifest

logger = logging.getLogger(__name__)

# Rows of each data array the export sends to the checker, picked at random per run.
SAMPLE_ROWS = 1_000
# Files beside the submission copied into the folder it runs in (images it reads, say).
MAX_SIBLING_BYTES = 20_000_000


class GradingError(LabError):
    """The grader itself could not grade (its checker failed or timed out)."""


class Checker:
    """The grader's side of the checker process: start it, wait for it, ask it to grade.

    One checker can grade several submissions in turn (`grade_submission`'s ``checker``);
    it is started before the first of them runs, so the same guarantees hold. Close it
    (or use it as a context manager) to end the process.
    """

    def __init__(self, rubric: Rubric, *, mnist_path: Path, samples_dir: Path):
        self.rubric, self.mnist_path, self.samples_dir = rubric, mnist_path, samples_dir
        self.key = protocol.new_key()
        self.started = time.perf_counter()
        self.folder = Path(tempfile.mkdtemp(prefix="mnist-lab-checker-"))
        self.log_path = self.folder / "checker.log"
        self._log = self.log_path.open("wb")
        # Its temporary files (the check files' copies, junit.xml) go in the grader's folder
        # for it, removed with it by `close`.
        environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TMPDIR": str(self.folder)}
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-m", "mnist_lab.grading.checker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=self.folder,
            env=environment,
        )
        self._lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._read_lines, daemon=True).start()
        start = {
            "key": self.key.hex(),
            "rubric": rubric.to_dict(),
            "rubric_source": rubric.source,
            "mnist_path": str(mnist_path),
            "samples_dir": str(samples_dir),
        }
        self._send_line(json.dumps(start).encode("utf-8") + b"\n")
        self.ready = False

    @classmethod
    def start(
        cls,
        rubric: Rubric | str | os.PathLike | None = None,
        *,
        mnist_path: str | os.PathLike | None = None,
        samples_dir: str | os.PathLike | None = None,
    ) -> Checker:
        """Check the set-up (rubric, MNIST, scans) and start a checker for it."""
        rubric, samples_dir = _as_rubric(rubric), _samples_dir(samples_dir)
        return cls(rubric, mnist_path=_local_mnist(mnist_path), samples_dir=samples_dir)

    def __enter__(self) -> Checker:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _read_lines(self) -> None:
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(b"")  # end of output: the process is gone

    def _send_line(self, line: bytes) -> None:
        try:
            self.process.stdin.write(line)
            self.process.stdin.flush()
        except (BrokenPipeError, OSError) as error:
            raise GradingError(f"The checker process stopped early. {self._log_tail()}") from error

    def _receive(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise GradingError(f"The checker did not answer within {timeout:.0f} s.") from None
            if not line:
                raise GradingError(f"The checker process stopped early. {self._log_tail()}")
            message = protocol.unseal(self.key, line)
            if message is None:
                logger.warning("Ignored an unsigned line on the checker's output")
                continue
            if message.get("kind") == "error":
                raise GradingError(f"The checker failed: {message.get('message')}")
            return message

    def wait_ready(self, timeout: float) -> None:
        if self.ready:
            return
        message = self._receive(timeout)
        if message.get("kind") != "ready":
            raise GradingError(f"The checker sent {message.get('kind')!r} instead of 'ready'.")
        self.ready = True
        logger.info("Checker ready after %.1f s", time.perf_counter() - self.started)

    def grade(self, request: dict, timeout: float) -> dict:
        """The checker's answer: ``checks`` (each a `CheckResult`'s fields) and ``junit``."""
        self._send_line(protocol.seal(self.key, {"kind": "grade", **request}))
        message = self._receive(timeout)
        if message.get("kind") != "results":
            raise GradingError(f"The checker sent {message.get('kind')!r} instead of results.")
        return message

    def _log_tail(self) -> str:
        self._log.flush()
        lines = self.log_path.read_text(errors="replace").strip().splitlines()
        return "Its last words: " + " | ".join(lines[-5:]) if lines else ""

    def close(self) -> None:
        """End the checker. Every answer it gave is in by now, and its files are in its
        folder, so it is stopped at once rather than waited for: Python and TensorFlow
        take a second or more to shut down, for nothing the grader needs."""
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        self.process.kill()
        self.process.wait()
        self._log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def grade_submission(
    notebook: str | os.PathLike,
    *,
    out_dir: str | os.PathLike | None = None,
    rubric: Rubric | str | os.PathLike | None = None,
    mnist_path: str | os.PathLike | None = None,
    samples_dir: str | os.PathLike | None = None,
    checker: Checker | None = None,
    kernel_env: Mapping[str, str] | None = None,
    copy_siblings: bool = True,
    report_dir: str | os.PathLike | None = None,
) -> GradingResults:
    """Grade the notebook at ``notebook``; write the result files to ``out_dir`` if given.

    ``rubric`` is a `Rubric` or the path of a rubric file (default: autograder/rubric.toml);
    MNIST is read from ``mnist_path``, else ``$MNIST_PATH``, else the Keras cache; the scans
    from ``samples_dir``, else the kit's sample_images/. With ``checker`` (a started
    `Checker`, reused across submissions), its rubric, MNIST and scans are used instead.
    ``kernel_env`` adds variables to the student's kernel's environment (a batch grader
    sizes TensorFlow's thread pools with them); the grader's own variables win. The files
    beside the notebook (images it reads, say) are copied into the folder it runs in, unless
    ``copy_siblings`` is False (a folder that holds a whole class's notebooks). With
    ``report_dir``, the student's lab report is written there too, as `mnist-lab run` writes
    it, from this same run (`grading.report`): the notebook runs once for both.
    Raises `LabError` only when the grader cannot grade; whatever the notebook does, it is
    graded.
    """
    notebook = Path(notebook)
    if not notebook.is_file():
        raise LabError(f"No submission at {notebook}: expected the path of a .ipynb file.")
    if report_dir is not None:
        from mnist_lab.run import check_report_destination

        report_dir = Path(report_dir)
        check_report_destination(report_dir)  # before the notebook runs, not after
    if checker is None:  # the grader's own set-up is checked first, whatever the notebook
        rubric = _as_rubric(rubric)
        mnist_path, samples_dir = _local_mnist(mnist_path), _samples_dir(samples_dir)
    started = time.perf_counter()
    manual = (checker.rubric if checker else rubric).manual
    try:
        submitted = read_notebook(notebook)
        notes = _format_notes(submitted)
    except LabError as error:  # the student's file: graded zero, with the reason
        # The student reads this: their file's name, never where it lies on the grader.
        reason = str(error).replace(str(notebook), notebook.name)
        checks = all_failed(checker.rubric if checker else rubric, f"Not run: {reason}")
        results = GradingResults(
            checks,
            notebook.name,
            time.perf_counter() - started,
            answers=tuple(ManualAnswer(name, spec.points, False) for name, spec in manual.items()),
        )
    else:
        options = RunOptions(dict(kernel_env or {}), copy_siblings, report_dir)
        if checker is None:
            with Checker(rubric, mnist_path=mnist_path, samples_dir=samples_dir) as own:
                results = _grade(notebook, own, started, notes, options)
        else:
            results = _grade(notebook, checker, started, notes, options)
        results = replace(results, answers=manual_answers(submitted, manual))
    logger.info("%s: %s", notebook.name, results.summary_line())
    if out_dir is not None:
        write_results(results, Path(out_dir))
    return results


def manual_answers(
    notebook: nbformat.NotebookNode, manual: Mapping[str, ManualSpec]
) -> tuple[ManualAnswer, ...]:
    """Whether the notebook as handed in holds each answer the rubric has graded by hand
    (read from its file: an answer is the student's writing, not something the run makes)."""
    cells = answer_cells(notebook)
    return tuple(
        ManualAnswer(name, spec.points, name in cells and is_written(cells[name].source))
        for name, spec in manual.items()
    )


def _as_rubric(rubric: Rubric | str | os.PathLike | None) -> Rubric:
    return rubric if isinstance(rubric, Rubric) else load_rubric(rubric)


def _format_notes(notebook: nbformat.NotebookNode) -> tuple[str, ...]:
    """Notes for a notebook that was converted from an older format, or repaired, to read it."""
    notes = []
    version = notebook.metadata.get("orig_nbformat")
    if version is not None and version < nbformat.current_nbformat:
        notes.append(
            f"Your notebook is in an old format (nbformat {version}); it was converted to the "
            f"current one ({nbformat.current_nbformat}) to be graded. Open and save it in a "
            "current Jupyter before you hand it in."
        )
    repairs = notebook.metadata.get(REPAIRS_KEY)
    if repairs:
        notes.append(
            f"Your notebook file was not a valid notebook ({'; '.join(repairs)}); it was "
            "repaired to be graded, and your code ran as written. Open it in Jupyter and "
            "save it (File > Save) before you hand it in again."
        )
    return tuple(notes)


@dataclass(frozen=True)
class RunOptions:
    """How a notebook is run, beyond the rubric's limits (see `grade_submission`)."""

    kernel_env: Mapping[str, str]
    copy_siblings: bool = True
    report_dir: Path | None = None


def _grade(
    notebook: Path,
    checker: Checker,
    started: float,
    notes: tuple[str, ...],
    options: RunOptions,
) -> GradingResults:
    with tempfile.TemporaryDirectory(prefix="mnist-lab-grade-") as folder:
        answer, cell_errors, run_notes = _run_and_check(notebook, checker, Path(folder), options)
    seconds = time.perf_counter() - started
    checks = tuple(CheckResult(**check) for check in answer["checks"])
    return GradingResults(
        checks, notebook.name, seconds, cell_errors, notes + run_notes, answer.get("junit", "")
    )


def _run_and_check(
    notebook: Path, checker: Checker, folder: Path, options: RunOptions
) -> tuple[dict, tuple[CellError, ...], tuple[str, ...]]:
    run_dir, export_dir = folder / "run", folder / "export"
    run_dir.mkdir()
    export_dir.mkdir()
    if options.copy_siblings:
        _copy_siblings(notebook, run_dir)
    limits = checker.rubric.limits
    kernel_end = folder / "kernel-end.json"  # the sandbox says here why the kernel ended
    cut_network = not limits.network and _can_cut_network()
    ipc_dir = folder / "ipc" if cut_network else None  # the kernel's channels, as sockets
    writable = [run_dir, export_dir]  # where the kernel may write: all of it counts on disk
    if ipc_dir is not None:
        ipc_dir.mkdir(mode=0o700)
        writable.append(ipc_dir)
    scans = _anonymous_copies(read_manifest(checker.samples_dir), folder / "scans")
    user = kernel_user.acquire()  # None unless the grader is root
    try:
        # The notebook's own scans are the kit's, which students have: never the grading
        # scans, which may be a private set (see autograder/README.md).
        mnist_path, samples_dir, home = checker.mnist_path, SAMPLE_IMAGES, None
        if user is not None:
            home = folder / "home"
            kernel_user.prepare(user, folder, writable=writable, home=home)
            data = folder / "data"
            data.mkdir(mode=0o755)
            data.chmod(0o755)
            mnist_path = kernel_user.readable_copy(mnist_path, data / "mnist.npz")
            samples_dir = kernel_user.readable_copy(samples_dir, data / "samples")
        executed = execute_notebook(
            notebook,
            cell_timeout=limits.cell_timeout_s,
            notebook_timeout=limits.notebook_timeout_s,
            allow_errors=True,
            extra_code=export_cell(
                export_dir,
                rows=_random_rows(),
                scans=scans,
                names=extra_names(checker.rubric.catalogue),
            ),
            env={
                **options.kernel_env,
                MNIST_ENV_VAR: str(mnist_path),
                "MNIST_LAB_SAMPLES": str(samples_dir),
            },
            cwd=run_dir,
            kernel_wrapper=sandbox.wrapper_command(
                memory_limit_mb=limits.memory_limit_mb,
                disk_limit_mb=limits.disk_limit_mb,
                disk_folders=tuple(writable),
                report=kernel_end,
                uid=None if user is None else user.uid,
                home=home,
                network=not cut_network,
            ),
            before_cells=lambda: checker.wait_ready(limits.checker_timeout_s),
            ipc_folder=ipc_dir,
        )
    finally:
        kernel_user.release(user)
    cells = [cell_seconds(cell) or 0.0 for cell in executed.notebook.cells]
    export_seconds = cells[-1] if is_extra_cell(executed.notebook.cells[-1]) else 0
    logger.info(
        "Notebook ran in %.1f s: its own cells %.1f s, the export %.1f s",
        executed.seconds,
        sum(cells) - export_seconds,
        export_seconds,
    )
    cell_errors = _cell_errors(executed, sandbox.explain_end(sandbox.read_report(kernel_end)))
    if cut_network:
        cell_errors = _explain_network(cell_errors)
    executed_path = folder / "executed.ipynb"
    nbformat.write(executed.notebook, executed_path)
    request = {
        "notebook": str(executed_path),
        "export_dir": str(export_dir),
        "cell_errors": [vars(error) for error in cell_errors],
    }
    checker.wait_ready(limits.checker_timeout_s)  # in case no cell ran at all
    checking = time.perf_counter()
    answer = checker.grade(request, limits.checker_timeout_s)
    logger.info("Checks took %.1f s", time.perf_counter() - checking)
    if options.report_dir is not None:  # scored already: the report changes no point
        from mnist_lab.grading.report import write_graded_report

        write_graded_report(
            executed,
            export_dir,
            options.report_dir,
            samples=read_manifest(checker.samples_dir),
            samples_dir=checker.samples_dir,
            mnist_path=checker.mnist_path,
        )
    return answer, cell_errors, _truncation_notes(executed)


def _local_mnist(mnist_path: str | os.PathLike | None) -> Path:
    path = locate_mnist(mnist_path)
    if path is None or not path.is_file():
        where = f"at {path}" if path is not None else f"(no --mnist, no ${MNIST_ENV_VAR})"
        raise LabError(
            f"The grader needs a local copy of mnist.npz and found none {where}. Pass "
            f"--mnist PATH or set {MNIST_ENV_VAR}; grading never downloads."
        )
    return path.resolve()


def _samples_dir(samples_dir: str | os.PathLike | None) -> Path:
    samples_dir = Path(samples_dir) if samples_dir is not None else sample_images_dir()
    try:
        read_manifest(samples_dir)
    except ManifestError as error:
        raise LabError(str(error)) from error
    return samples_dir


def _random_rows() -> dict[str, list[int]]:
    pick = secrets.SystemRandom().sample
    return {split: sorted(pick(range(size), SAMPLE_ROWS)) for split, size in SPLIT_SIZES.items()}


def _anonymous_copies(samples: list[Sample], folder: Path) -> list[str]:
    """Copies of the scans under random names, in the manifest's order, for the export cell.

    The hidden check gives the notebook's ``preprocess_scan`` these paths: a name like
    ``7_plain_1.png`` would tell it the label. Only the order, which the notebook does not
    see, ties each copy to its label.
    """
    folder.mkdir()
    folder.chmod(0o755)  # readable by a kernel run as a user of its own (`kernel_user`)
    copies = []
    for sample in samples:
        copy = folder / f"{secrets.token_hex(8)}{sample.path.suffix.lower()}"
        shutil.copyfile(sample.path, copy)
        copy.chmod(0o644)
        copies.append(str(copy))
    return copies


def _copy_siblings(notebook: Path, run_dir: Path) -> None:
    budget = MAX_SIBLING_BYTES
    for path in sorted(notebook.resolve().parent.iterdir()):
        if path.is_file() and not path.is_symlink() and path.suffix != ".ipynb":
            size = path.stat().st_size
            if size <= budget:
                shutil.copy2(path, run_dir / path.name)
                budget -= size


@functools.cache
def _can_cut_network() -> bool:
    """Whether kernels get no network here; says once, as a warning, why not."""
    reason = sandbox.network_isolation()
    if reason is not None:
        logger.warning(
            "Notebooks are graded WITH network access: %s. A notebook can then send out what "
            "it can read and reach this machine's services and the other kernels of a batch. "
            "Grade as root on Linux, in a container allowed to make network namespaces, or "
            "set [limits] network = true in the rubric to say the lab needs a network.",
            reason,
        )
    return reason is None


# What Python says when a connection fails for want of a network (sockets, DNS, urllib,
# requests, Keras's own downloads).
NETWORK_ERRORS = (
    "Network is unreachable",
    "Connection refused",
    "Temporary failure in name resolution",
    "Name or service not known",
    "No address associated with hostname",
    "gaierror",
    "URLError",
    "ConnectionError",
    "Max retries exceeded",
    "Failed to establish a new connection",
)
NO_NETWORK_HINT = (
    "Grading runs without a network: nothing can be downloaded, uploaded or reached over "
    "a connection while your notebook runs. Download data in advance and read it from a "
    "file beside the notebook (the lab's MNIST comes from load_mnist(), which needs no "
    "network), and remove code that connects anywhere."
)


def _explain_network(errors: tuple[CellError, ...]) -> tuple[CellError, ...]:
    """The errors, those of failed connections told why: in full once, then by reference."""
    explained, first = [], None
    for error in errors:
        if error.kind == "error" and any(text in error.message for text in NETWORK_ERRORS):
            hint = NO_NETWORK_HINT if first is None else f"No network while grading (see {first})."
            first = first or error.where().split(" (")[0]
            error = replace(error, message=f"{error.message}\n{hint}")
        explained.append(error)
    return tuple(explained)


def _cell_errors(executed: ExecutedNotebook, kernel_end: str | None) -> tuple[CellError, ...]:
    """The cells that failed, the grader's export cell left out.

    ``kernel_end`` (the sandbox's explanation) replaces the generic message of a dead kernel.
    """
    cells = executed.notebook.cells
    return tuple(
        CellError(
            failure.cell_index + 1,
            failure.section,
            failure.kind,
            kernel_end if failure.kind == "dead kernel" and kernel_end else failure.message,
        )
        for failure in executed.errors
        if failure.cell_index < len(cells) and not is_extra_cell(cells[failure.cell_index])
    )


def _truncation_notes(executed: ExecutedNotebook) -> tuple[str, ...]:
    cells = executed.notebook.cells
    numbers = [index + 1 for index in executed.truncated if not is_extra_cell(cells[index])]
    if not numbers:
        return ()
    listed = ", ".join(str(number) for number in numbers)
    return (
        f"Cell(s) {listed} printed more output than the grader keeps ({MAX_CELL_OUTPUT // MB} "
        f"MB per cell, {MAX_NOTEBOOK_OUTPUT // MB} MB per notebook): the rest was dropped "
        "and the cell went on running. Print less, e.g. a summary or every 100th line.",
    )


def write_results(results: GradingResults, out_dir: Path) -> None:
    """Write the four result files; each is written in full, then moved into place.

    Each is staged in a new file of its own (no name a notebook could prepare for), and a
    folder left where a result file belongs is removed first.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    contents = {
        "results.json": json.dumps(results.to_gradescope_dict(), indent=2) + "\n",
        "junit.xml": results.junit_xml or results.to_junit_xml() + "\n",
        "feedback.md": render_markdown(results),
        "feedback.html": render_html(results),
    }
    for name, text in contents.items():
        target = out_dir / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        descriptor, staged = tempfile.mkstemp(prefix=f".{name}.", suffix=".partial", dir=out_dir)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(staged, 0o644)
        os.replace(staged, target)
    logger.info("Results written to %s", out_dir)
