"""`grade_batch`: grade a whole class's notebooks, several at a time, and resume when stopped.

A class hands in hundreds of notebooks, some broken, a few hostile; grading them one after
the other takes days, and a batch that one bad notebook or a Ctrl-C can wipe out is worse.
So, in this order:

1. `discover` finds one notebook per student in a flat folder (``<student>.ipynb``), a
   folder per student (``<student>/<notebook>.ipynb``) or nbgrader's
   ``submitted/<student>/<assignment>/``; a student with no notebook or several is recorded
   as that student's error, graded zero with the reason, never a crash;
2. a student whose record (results, the notebook's SHA-256, the rubric's hash) matches is
   reused; every other one is graded by one of a few worker threads, each with its own
   checker process reused across its notebooks. Each kernel keeps TensorFlow's own intra-op
   pool, one thread per core, as a notebook graded alone does (and gets one inter-op
   thread): how many threads share a sum changes a trained model's last digits, which
   can tip an accuracy just over or under a threshold, so a grade must not depend on the
   batch it was graded in;
3. the main thread alone writes: each student's result files and record (``record.json``,
   last, so that it vouches for the files before it), then ``grades.csv``, each file whole
   and then moved into place, so a batch killed at any moment leaves only complete files;
4. on Ctrl-C the running kernels and checkers are ended at once and what finished is kept;
   the same command then resumes. When the batch completes, every result file is written
   again from the grader's memory, so that nothing a notebook changed while it ran stays.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import logging
import os
import queue
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from mnist_lab import __version__
from mnist_lab.errors import LabError
from mnist_lab.grading import kernel_user, sandbox
from mnist_lab.grading.grade import Checker, grade_submission, write_results
from mnist_lab.grading.results import GradingResults, format_points
from mnist_lab.grading.rubric import Rubric, load_rubric
from mnist_lab.grading.scoring import all_failed
from mnist_lab.notebook.execute import read_notebook

logger = logging.getLogger(__name__)

GRADES_CSV = "grades.csv"
RECORD = "record.json"
# Memory one worker needs at its peak: a kernel holding MNIST as floats while TensorFlow
# trains, and a checker with TensorFlow, MNIST and two models loaded.
MEMORY_PER_WORKER = 3 * 2**30
# One inter-op thread per kernel: with several kernels on the cores, TensorFlow's pool for
# running independent ops side by side only adds threads; it does not change any result.
# The intra-op pools, which split each op's sums and so decide its last digits, are kept.
KERNEL_THREADS = {"TF_NUM_INTEROP_THREADS": "1"}
POLL_SECONDS = 0.5
STOP_SECONDS = 30.0
LAYOUTS = (
    "a folder of <student>.ipynb files; a folder of <student>/<notebook>.ipynb; "
    "nbgrader's submitted/<student>/<assignment>/<notebook>.ipynb (give the course folder, "
    "its submitted/ folder, and --assignment NAME to pick one assignment)"
)

# A student's status in grades.csv: graded, or what kept the notebook from being graded.
GRADED = "graded"
UNREADABLE = "unreadable"  # not a notebook Jupyter can open: graded zero, with the reason
NO_NOTEBOOK = "no_notebook"
SEVERAL_NOTEBOOKS = "several_notebooks"
GRADER_ERROR = "grader_error"  # the grader failed: not stored, so the next run retries


@dataclass(frozen=True)
class Submission:
    """One student's hand-in: the notebooks found for them (one, unless something is off)."""

    student: str
    notebooks: tuple[Path, ...]
    folder: Path
    # False when the folder is the whole class's (the flat layout): the files beside the
    # notebook are then other students' too, and are not copied into its run folder.
    own_folder: bool = True

    def problem(self) -> tuple[str, str] | None:
        """(status, message) when there is not exactly one notebook to grade.

        The student reads the message: it names their folder, never where it lies on the
        grader's machine.
        """
        where = f"your hand-in folder ({self.folder.name}/)"
        if not self.notebooks:
            return NO_NOTEBOOK, f"no notebook (.ipynb) was found in {where}."
        if len(self.notebooks) > 1:
            names = ", ".join(path.relative_to(self.folder).as_posix() for path in self.notebooks)
            return SEVERAL_NOTEBOOKS, (
                f"{len(self.notebooks)} notebooks were found in {where}: {names}; "
                f"hand in exactly one."
            )
        return None

    def fingerprint(self) -> str:
        """The notebook's SHA-256; with several or none, the hash of what was found."""
        if len(self.notebooks) == 1:
            return _sha256(self.notebooks[0].read_bytes())
        found = "\n".join(f"{path.name} {_sha256(path.read_bytes())}" for path in self.notebooks)
        return _sha256(found.encode("utf-8"))


@dataclass(frozen=True)
class StudentRecord:
    """A finished student: status, results and the keys that decide whether to reuse them."""

    student: str
    status: str
    sha256: str
    rubric_sha256: str
    results: GradingResults | None  # None only for GRADER_ERROR
    message: str = ""
    seconds: float = 0.0

    def to_dict(self) -> dict:
        data = {key: value for key, value in vars(self).items() if key != "results"}
        return {**data, "results": self.results.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping) -> StudentRecord:
        return cls(**{**data, "results": GradingResults.from_dict(data["results"])})


@dataclass(frozen=True)
class BatchSummary:
    """What a batch did: every student's record, who was graded now and who was reused."""

    records: tuple[StudentRecord, ...]
    graded: tuple[str, ...]
    reused: tuple[str, ...]
    grades_csv: Path

    @property
    def errors(self) -> tuple[StudentRecord, ...]:
        return tuple(record for record in self.records if record.status != GRADED)


def discover(
    folder: str | os.PathLike, *, assignment: str | None = None, exclude: Path | None = None
) -> list[Submission]:
    """Every student's submission under ``folder``, sorted by student (see `LAYOUTS`).

    Hidden files and folders (``.ipynb_checkpoints``) and ``exclude`` are skipped. Raises
    `LabError` when the folder holds no notebook at all.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise LabError(f"{folder} is not a folder. Expected a folder of submissions: {LAYOUTS}.")
    if (folder / "submitted").is_dir():  # an nbgrader course folder
        folder = folder / "submitted"
    found: dict[str, Submission] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or (exclude is not None and _same(entry, exclude)):
            continue
        if entry.is_dir():
            root = entry / assignment if assignment else entry
            submission = Submission(entry.name, _notebooks_under(root), root)
        elif entry.suffix == ".ipynb" and assignment is None:
            submission = Submission(entry.stem, (entry,), folder, own_folder=False)
        else:
            continue
        if submission.student in found:  # alice.ipynb beside alice/
            before = found[submission.student]
            submission = Submission(
                submission.student, before.notebooks + submission.notebooks, folder, False
            )
        found[submission.student] = submission
    if not any(submission.notebooks for submission in found.values()):
        which = f" for the assignment {assignment!r}" if assignment else ""
        raise LabError(
            f"No notebook (.ipynb) found in {folder}{which}. Accepted layouts: {LAYOUTS}."
        )
    return [found[student] for student in sorted(found)]


def _notebooks_under(root: Path) -> tuple[Path, ...]:
    if not root.is_dir():
        return ()
    return tuple(
        path
        for path in sorted(root.rglob("*.ipynb"))
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts)
    )


def _same(path: Path, other: Path) -> bool:
    return path.resolve() == other.resolve()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def rubric_sha256(rubric: Rubric) -> str:
    """A hash of everything that decides a grade besides the notebook: the rubric, the checks
    (the text of every check file, the instructor's included) and the kit."""
    checks = {
        f"{check.path.parent.name}/{check.path.name}": _sha256(check.path.read_bytes())
        for check in rubric.catalogue
    }
    rubric_data = {**rubric.to_dict(), "check_files": sorted(checks)}
    state = {"rubric": rubric_data, "checks": checks, "kit": __version__}
    return _sha256(json.dumps(state, sort_keys=True).encode("utf-8"))


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity, as containers and taskset set it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def default_workers() -> int:
    """One worker per usable core, fewer when memory would not hold that many at once."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return usable_cores()
    return max(1, min(usable_cores(), memory // MEMORY_PER_WORKER))


def read_record(folder: Path) -> StudentRecord | None:
    """The record a previous batch stored in ``folder``, or None (absent or unusable)."""
    path = folder / RECORD
    if not path.is_file():
        return None
    try:
        return StudentRecord.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError, KeyError) as error:
        logger.warning("Ignored %s (%s); the submission will be graded again", path, error)
        return None


def write_record(record: StudentRecord, folder: Path) -> None:
    """Store the record; call it after the result files, which it vouches for."""
    write_atomically(folder / RECORD, json.dumps(record.to_dict(), indent=2) + "\n")


def write_grades_csv(path: Path, records: Iterable[StudentRecord], checks: Iterable[str]) -> None:
    """grades.csv: one row per student, sorted, with the points of each check."""
    checks = list(checks)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "score", "max_score", *checks, "status", "seconds", "sha256"])
    for record in sorted(records, key=lambda record: record.student):
        results = record.results
        points = (
            [results.score, results.max_score, *(results.check(name).points for name in checks)]
            if results is not None
            else [None] * (len(checks) + 2)
        )
        values = ["" if value is None else format_points(value) for value in points]
        seconds = f"{record.seconds:.1f}"
        writer.writerow([record.student, *values, record.status, seconds, record.sha256])
    write_atomically(path, buffer.getvalue())


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` whole, then move it into place.

    It is staged in a new file of its own (no name a notebook could prepare for); a folder
    left where the file belongs is removed first.
    """
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    descriptor, staged = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".partial", dir=path.parent
    )
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    os.chmod(staged, 0o644)
    os.replace(staged, path)


def _remove_partials(out_dir: Path) -> None:
    """Staged files a killed batch left behind (never taken for results: their names say so)."""
    for staged in [*out_dir.glob(".*.partial"), *out_dir.glob("*/.*.partial")]:
        staged.unlink(missing_ok=True)


class _SetupFailure(Exception):
    """The grader cannot start (no MNIST, say): a worker hands this to the main thread."""

    def __init__(self, error: LabError):
        super().__init__(str(error))
        self.error = error


class _Worker:
    """One grading thread with its own checker process, started when first needed."""

    def __init__(self, pool: _Pool):
        self.pool = pool
        self.checker: Checker | None = None
        self.thread = threading.Thread(target=self.run, name="grade-batch", daemon=True)

    def run(self) -> None:
        try:
            while not self.pool.stopping.is_set():
                try:
                    submission = self.pool.todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    self.pool.done.put(self.grade(submission))
                except _SetupFailure as failure:
                    self.pool.done.put(failure)
                    return
        finally:
            self._drop_checker()

    def grade(self, submission: Submission) -> StudentRecord:
        """The student's record; whatever goes wrong becomes a GRADER_ERROR record."""
        started, sha256 = time.perf_counter(), ""
        try:
            sha256 = submission.fingerprint()
            status, results, message = self._outcome(submission)
        except _SetupFailure:
            raise
        except Exception as error:  # one submission's failure never stops the batch
            if not self.pool.stopping.is_set():  # else it was stopped on purpose
                logger.warning("%s: the grader failed: %s", submission.student, error)
            self._drop_checker()  # it may yet answer the failed request: never reuse it
            status, results, message = GRADER_ERROR, None, f"{type(error).__name__}: {error}"
        seconds = time.perf_counter() - started
        student, rubric_hash = submission.student, self.pool.rubric_hash
        return StudentRecord(student, status, sha256, rubric_hash, results, message, seconds)

    def _outcome(self, submission: Submission) -> tuple[str, GradingResults, str]:
        """(status, results, message) for the submission."""
        problem = submission.problem()
        if problem is not None:
            status, message = problem
            checks = all_failed(self.pool.rubric, f"Not graded: {message}")
            return status, GradingResults(checks, submission.student), message
        notebook = submission.notebooks[0]
        try:
            read_notebook(notebook)
        except LabError as error:  # graded zero by grade_submission, which says why
            return UNREADABLE, self._grade_unreadable(notebook), str(error)
        results = grade_submission(
            notebook,
            checker=self._checker(),
            kernel_env=KERNEL_THREADS,
            copy_siblings=submission.own_folder,
        )
        return GRADED, results, ""

    def _grade_unreadable(self, notebook: Path) -> GradingResults:
        try:
            return grade_submission(notebook, rubric=self.pool.rubric)
        except LabError as error:  # the notebook was not even read: the set-up is wrong
            raise _SetupFailure(error) from error

    def _checker(self) -> Checker:
        if self.checker is None:
            try:
                self.checker = Checker.start(self.pool.rubric)
            except LabError as error:
                raise _SetupFailure(error) from error
        return self.checker

    def _drop_checker(self) -> None:
        if self.checker is not None:
            self.checker.close()
            self.checker = None

    def kill_checker(self) -> None:
        checker = self.checker
        if checker is not None:
            checker.process.kill()


class _Pool:
    """The worker threads: they take submissions from `todo` and put records in `done`."""

    def __init__(self, submissions: list[Submission], rubric: Rubric, workers: int):
        self.rubric, self.rubric_hash = rubric, rubric_sha256(rubric)
        self.todo: queue.Queue[Submission] = queue.Queue()
        self.done: queue.Queue[StudentRecord | _SetupFailure] = queue.Queue()
        self.stopping = threading.Event()
        for submission in submissions:
            self.todo.put(submission)
        self.workers = [_Worker(self) for _ in range(workers)]
        for worker in self.workers:
            worker.thread.start()

    def next_record(self) -> StudentRecord:
        """The next finished student, waiting as needed (a short wait, so Ctrl-C gets through)."""
        while True:
            try:
                outcome = self.done.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            if isinstance(outcome, _SetupFailure):
                raise outcome.error
            return outcome

    def stop(self) -> None:
        """Stop now: no new submission starts; running kernels and checkers are ended."""
        self.stopping.set()
        deadline = time.monotonic() + STOP_SECONDS
        while any(worker.thread.is_alive() for worker in self.workers):
            if time.monotonic() > deadline:
                logger.warning("Some gradings did not stop within %.0f s", STOP_SECONDS)
                return
            for worker in self.workers:
                worker.kill_checker()
            _end_kernels()
            for worker in self.workers:
                worker.thread.join(timeout=POLL_SECONDS / len(self.workers))

    def join(self) -> None:
        for worker in self.workers:
            worker.thread.join()


def _end_kernels() -> None:
    """Ask each kernel sandbox this process started to end its kernel (Linux: via /proc)."""
    if not os.path.isdir("/proc"):
        return
    me = os.getpid()
    wrapper = {os.fsencode(path) for path in (sandbox.__file__, Path(sandbox.__file__).resolve())}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if parent == me and wrapper.intersection(command):
            with contextlib.suppress(ProcessLookupError):  # it has ended already
                os.kill(int(entry), signal.SIGTERM)  # it kills the kernel, then what is left


def grade_batch(
    submissions: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    workers: int | None = None,
    rubric: Rubric | str | os.PathLike | None = None,
    assignment: str | None = None,
    force: bool = False,
    progress: bool = False,
    similarity_threshold: float | None = None,
) -> BatchSummary:
    """Grade every submission under ``submissions`` into ``out_dir``; see the module's doc.

    ``workers``: gradings at a time (default `default_workers`); ``rubric``: a `Rubric` or a
    rubric file (default autograder/rubric.toml); ``assignment``: the nbgrader assignment to
    grade; ``force``: grade again what a previous run finished; ``progress``: show a progress
    bar; ``similarity_threshold``: for the class report's similar code (see `classroom`).
    Once every student is graded, each one's code cells are kept beside their results and
    the class report is written (`classroom.report`), on a resumed run too. Raises
    `LabError` when the grader cannot start; on KeyboardInterrupt, stops the gradings, keeps
    what finished and raises it again.
    """
    out_dir = Path(out_dir)
    if workers is not None and workers < 1:
        raise LabError(f"--workers is {workers}; expected at least 1 grading at a time.")
    rubric = rubric if isinstance(rubric, Rubric) else load_rubric(rubric)
    if _same(Path(submissions), out_dir):
        raise LabError(f"--out {out_dir} is the submissions folder; give a folder of its own.")
    found = discover(submissions, assignment=assignment, exclude=out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_partials(out_dir)
    rubric_hash = rubric_sha256(rubric)
    records = {} if force else _reusable(found, out_dir, rubric_hash)
    batch = _Batch(out_dir, rubric, records)
    batch.save_csv()
    pending = [submission for submission in found if submission.student not in records]
    logger.info(
        "%d submissions: %d to grade, %d finished before", len(found), len(pending), len(records)
    )
    if pending:
        _warn_if_open(Path(submissions), out_dir)
        count = min(workers or default_workers(), len(pending))
        batch.run(pending, count, progress=progress, total=len(found))
    batch.rewrite_all()
    _write_class_report(found, out_dir, rubric, similarity_threshold)
    return BatchSummary(
        tuple(records[student] for student in sorted(records)),
        tuple(sorted(batch.graded)),
        tuple(student for student in sorted(records) if student not in batch.graded),
        out_dir / GRADES_CSV,
    )


def _write_class_report(
    found: list[Submission], out_dir: Path, rubric: Rubric, threshold: float | None
) -> None:
    """Each student's code cells (for the similarity check), then the class report."""
    from mnist_lab.classroom.records import write_code
    from mnist_lab.classroom.report import write_class_report
    from mnist_lab.classroom.similarity import DEFAULT_THRESHOLD

    try:
        for submission in found:
            code = None
            if len(submission.notebooks) == 1:
                try:
                    notebook = read_notebook(submission.notebooks[0])
                    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
                except LabError:
                    code = None
            if (out_dir / submission.student).is_dir():
                write_code(out_dir / submission.student, code)
        write_class_report(out_dir, rubric=rubric, threshold=threshold or DEFAULT_THRESHOLD)
    except Exception:  # the grades are written: a report that fails must not lose them
        logger.exception("The class report could not be written; grades.csv is complete")


def _warn_if_open(submissions: Path, out_dir: Path) -> None:
    """Warn when kernels, run as users of their own, could read the class's notebooks or
    results: each folder is private only if it, or a folder above it, keeps others out."""
    if not kernel_user.wanted():
        return  # kernels run as the grader's user, who reads everything anyway
    for folder, what in ((submissions, "notebooks"), (out_dir, "results and feedback")):
        if kernel_user.reachable_by_kernels(folder):
            logger.warning(
                "Other users can enter %s, so a student's notebook could read the other "
                "students' %s while it is graded. Run `chmod 700 %s` to keep them private "
                "(the grader, as root, still reads and writes it).",
                folder,
                what,
                folder,
            )


def _reusable(found: list[Submission], out_dir: Path, rubric_hash: str) -> dict[str, StudentRecord]:
    reusable = {}
    for submission in found:
        record = read_record(out_dir / submission.student)
        if (
            record is not None
            and record.rubric_sha256 == rubric_hash
            and record.sha256 == submission.fingerprint()
        ):
            reusable[submission.student] = record
    return reusable


class _Batch:
    """The main thread's side: records each finished student and keeps grades.csv current."""

    def __init__(self, out_dir: Path, rubric: Rubric, records: dict[str, StudentRecord]):
        self.out_dir, self.rubric, self.records = out_dir, rubric, records
        self.graded: list[str] = []

    def run(self, pending: list[Submission], workers: int, *, progress: bool, total: int) -> None:
        bar = tqdm(
            total=total,
            initial=total - len(pending),
            desc="Grading",
            unit="notebook",
            disable=None if progress else True,  # None: only on a terminal
            dynamic_ncols=True,
        )
        with bar, logging_redirect_tqdm():
            logger.info("Grading %d submissions, %d at a time", len(pending), workers)
            pool = _Pool(pending, self.rubric, workers)
            try:
                for _ in pending:
                    self.record(pool.next_record())
                    bar.update()
                pool.join()
            finally:
                pool.stop()

    def record(self, record: StudentRecord) -> None:
        if record.results is not None:
            self._write_student(record)
        self.records[record.student] = record
        self.graded.append(record.student)
        self.save_csv()
        line = record.results.summary_line() if record.results else record.message
        logger.info("%s: %s [%s, %.0f s]", record.student, line, record.status, record.seconds)

    def _write_student(self, record: StudentRecord) -> None:
        folder = self.out_dir / record.student
        write_results(record.results, folder)
        write_record(record, folder)

    def save_csv(self) -> None:
        write_grades_csv(self.out_dir / GRADES_CSV, self.records.values(), self.rubric.checks)

    def rewrite_all(self) -> None:
        """Write every result file again, from memory, now that no student code runs."""
        for record in self.records.values():
            if record.results is not None:
                self._write_student(record)
        self.save_csv()
