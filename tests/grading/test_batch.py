"""`mnist-lab grade-batch`: layouts, grades.csv, resuming, and a batch killed or interrupted.

Most tests grade broken notebooks and folders without one, which need no kernel; the tests
that run kernels use fixture notebooks that train in seconds, with `tiny_rubric`, and two
workers. `graded(name)` (tests/grading/conftest.py) is each fixture graded alone.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pytest

from mnist_lab.cli import main
from mnist_lab.errors import LabError
from mnist_lab.grading.batch import (
    GRADED,
    GRADER_ERROR,
    NO_NOTEBOOK,
    SEVERAL_NOTEBOOKS,
    UNREADABLE,
    discover,
    grade_batch,
    read_record,
)
from mnist_lab.grading.catalogue import CHECK_NAMES
from mnist_lab.grading.rubric import CheckSpec
from tests.fixtures import submissions
from tests.grading.conftest import TINY_THRESHOLDS

BROKEN = "{ this is not json"
KILL_AFTER_S = 420  # a subprocess batch still running after this is a failure, not a hang


def _make(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def _rows(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "grades.csv", newline="") as file:
        return {row["student"]: row for row in csv.DictReader(file)}


def _fixture(name: str) -> str:
    return submissions.path(name).read_text()


# Discovery ---------------------------------------------------------------------------------

NB = "{}"  # discovery reads names only
LAYOUTS = {
    "flat": (
        {
            "alice.ipynb": NB,
            "bob.ipynb": NB,
            ".ipynb_checkpoints/alice-checkpoint.ipynb": NB,
            "notes.txt": "",
        },
        "",
        None,
        {"alice": ["alice.ipynb"], "bob": ["bob.ipynb"]},
    ),
    "a folder per student": (
        {
            "alice/lab.ipynb": NB,
            "alice/.ipynb_checkpoints/lab-checkpoint.ipynb": NB,
            "alice/digit.png": "",
            "bob/work/lab.ipynb": NB,
        },
        "",
        None,
        {"alice": ["alice/lab.ipynb"], "bob": ["bob/work/lab.ipynb"]},
    ),
    "nbgrader course folder": (
        {
            "submitted/alice/mnist_cnn_lab/mnist_cnn_lab.ipynb": NB,
            "submitted/alice/mnist_cnn_lab/timestamp.txt": "2024-01-01",
            "submitted/bob/mnist_cnn_lab/mnist_cnn_lab.ipynb": NB,
            "source/mnist_cnn_lab/mnist_cnn_lab.ipynb": NB,
            "release/mnist_cnn_lab/mnist_cnn_lab.ipynb": NB,
        },
        "",
        None,
        {
            "alice": ["submitted/alice/mnist_cnn_lab/mnist_cnn_lab.ipynb"],
            "bob": ["submitted/bob/mnist_cnn_lab/mnist_cnn_lab.ipynb"],
        },
    ),
    "nbgrader submitted/ with --assignment": (
        {
            "submitted/alice/mnist_cnn_lab/mnist_cnn_lab.ipynb": NB,
            "submitted/alice/intro/intro.ipynb": NB,
            "submitted/bob/mnist_cnn_lab/mnist_cnn_lab.ipynb": NB,
            "submitted/carol/intro/intro.ipynb": NB,
        },
        "submitted",
        "mnist_cnn_lab",
        {
            "alice": ["submitted/alice/mnist_cnn_lab/mnist_cnn_lab.ipynb"],
            "bob": ["submitted/bob/mnist_cnn_lab/mnist_cnn_lab.ipynb"],
            "carol": [],
        },
    ),
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_discover_finds_one_notebook_per_student(tmp_path, layout):
    files, given, assignment, expected = LAYOUTS[layout]
    _make(tmp_path, files)
    found = discover(tmp_path / given, assignment=assignment)
    assert {
        submission.student: [str(path.relative_to(tmp_path)) for path in submission.notebooks]
        for submission in found
    } == expected


def test_several_notebooks_or_none_are_the_students_problem(tmp_path):
    _make(tmp_path, {"alice/a.ipynb": NB, "alice/b.ipynb": NB, "bob/notes.txt": "", "c.ipynb": NB})
    found = {submission.student: submission for submission in discover(tmp_path)}
    status, message = found["alice"].problem()
    assert status == SEVERAL_NOTEBOOKS and "a.ipynb, b.ipynb" in message
    assert found["bob"].problem()[0] == NO_NOTEBOOK
    assert found["c"].problem() is None


def test_files_beside_a_notebook_go_with_it_only_from_the_students_own_folder(tmp_path):
    """In a flat class folder, the files beside alice.ipynb are everyone's, not hers."""
    _make(tmp_path, {"flat/alice.ipynb": NB, "flat/bob.png": "", "own/carol/lab.ipynb": NB})
    assert [s.own_folder for s in discover(tmp_path / "flat")] == [False]
    assert [s.own_folder for s in discover(tmp_path / "own")] == [True]


@pytest.mark.parametrize("files", [{}, {"alice/notes.txt": "", "readme.md": ""}])
def test_no_notebook_anywhere_is_a_clear_error(tmp_path, files):
    _make(tmp_path, files)
    with pytest.raises(LabError, match="No notebook") as error:
        discover(tmp_path)
    assert "submitted/<student>/<assignment>/" in str(error.value)
    assert "<student>.ipynb" in str(error.value)


def test_kernels_keep_the_thread_pools_of_a_notebook_graded_alone(monkeypatch, tmp_path):
    """Fewer threads per kernel changed the solution's bonus accuracy (0.9934 alone, 0.9929
    with one thread each): a batch must grade exactly as `mnist-lab grade` does."""
    import mnist_lab.grading.batch as batch

    calls = []
    monkeypatch.setattr(batch, "grade_submission", lambda *a, **k: calls.append(k))
    _make(tmp_path / "class", {"alice.ipynb": NB})
    with contextlib.suppress(Exception):
        grade_batch(tmp_path / "class", tmp_path / "out", workers=2)
    assert calls
    for call in calls:  # only the inter-op pool, which changes no result, is made smaller
        assert set(call.get("kernel_env", {})) <= {"TF_NUM_INTEROP_THREADS"}


# grades.csv and resuming, with submissions that need no kernel -------------------------------


@pytest.fixture
def broken_class(tmp_path):
    """Three students, none with a notebook that runs: nothing here starts a kernel."""
    return _make(
        tmp_path / "class",
        {
            "alice.ipynb": BROKEN,
            "bob.ipynb": BROKEN + " 2",
            "carol/a.ipynb": NB,
            "carol/b.ipynb": NB,
        },
    )


@pytest.mark.parametrize("mode", [0o755, 0o700])
def test_a_class_folder_kernels_could_read_is_named_with_the_fix(
    mode, tmp_path, tiny_rubric, monkeypatch, caplog
):
    from mnist_lab.grading import kernel_user

    monkeypatch.setattr(kernel_user.os, "geteuid", lambda: 0)  # kernels as users of their own
    monkeypatch.delenv(kernel_user.ENV_VAR, raising=False)
    with tempfile.TemporaryDirectory() as shared:  # in /tmp, which every user may enter
        os.chmod(shared, 0o711)
        handed_in = _make(Path(shared, "handed_in"), {"alice.ipynb": BROKEN})
        handed_in.chmod(mode)
        with caplog.at_level(logging.WARNING, logger="mnist_lab.grading.batch"):
            grade_batch(handed_in, tmp_path / "out", workers=1, rubric=tiny_rubric)
    warnings = [message for message in caplog.messages if "Other users can enter" in message]
    if mode == 0o700:
        assert warnings == []  # and tmp_path, pytest's, is root's alone
    else:
        [warning] = warnings
        assert "other students' notebooks" in warning and f"chmod 700 {handed_in}" in warning


def test_grades_csv_has_a_complete_row_per_student(broken_class, tmp_path, tiny_rubric):
    out = tmp_path / "out"
    summary = grade_batch(broken_class, out, workers=2, rubric=tiny_rubric)
    assert summary.graded == ("alice", "bob", "carol") and summary.reused == ()
    with open(out / "grades.csv", newline="") as file:
        header = next(csv.reader(file))
    assert header == ["student", "score", "max_score", *CHECK_NAMES, "status", "seconds", "sha256"]
    rows = _rows(out)
    assert list(rows) == ["alice", "bob", "carol"]
    assert rows["alice"]["status"] == UNREADABLE and rows["carol"]["status"] == SEVERAL_NOTEBOOKS
    assert rows["alice"]["score"] == "0" and rows["alice"]["max_score"] == "100"
    assert rows["alice"]["sha256"] == hashlib.sha256(BROKEN.encode()).hexdigest()
    for student in rows:
        feedback = (out / student / "feedback.md").read_text()
        assert "Not run: " in feedback or "Not graded: " in feedback
        assert str(tmp_path) not in feedback and "/tmp/" not in feedback  # no grader path
    carol = " ".join((out / "carol" / "feedback.md").read_text().split())
    assert "found in your hand-in folder (carol/): a.ipynb, b.ipynb; hand in exactly one" in carol


def test_a_rerun_reuses_unchanged_and_regrades_changed_submissions(
    broken_class, tmp_path, tiny_rubric
):
    out = tmp_path / "out"
    grade_batch(broken_class, out, workers=2, rubric=tiny_rubric)
    again = grade_batch(broken_class, out, workers=2, rubric=tiny_rubric)
    assert again.graded == () and again.reused == ("alice", "bob", "carol")

    (broken_class / "bob.ipynb").write_text(BROKEN + " changed")
    (broken_class / "carol" / "b.ipynb").unlink()
    changed = grade_batch(broken_class, out, workers=2, rubric=tiny_rubric)
    assert changed.graded == ("bob", "carol") and changed.reused == ("alice",)
    rows = _rows(out)
    assert rows["bob"]["sha256"] == hashlib.sha256(b"{ this is not json changed").hexdigest()
    assert rows["carol"]["status"] == UNREADABLE  # its one notebook, "{}", is not a notebook
    assert read_record(out / "bob").sha256 == rows["bob"]["sha256"]

    forced = grade_batch(broken_class, out, workers=2, rubric=tiny_rubric, force=True)
    assert forced.graded == ("alice", "bob", "carol") and forced.reused == ()


def test_a_changed_rubric_regrades_everyone(broken_class, tmp_path, tiny_rubric):
    out = tmp_path / "out"
    grade_batch(broken_class, out, workers=2, rubric=tiny_rubric)
    checks = {**tiny_rubric.checks, "test_accuracy": CheckSpec(points=30)}
    rescored = grade_batch(broken_class, out, workers=2, rubric=replace(tiny_rubric, checks=checks))
    assert rescored.graded == ("alice", "bob", "carol") and rescored.reused == ()
    assert {row["max_score"] for row in _rows(out).values()} == {"110"}


def test_a_damaged_record_is_graded_again(broken_class, tmp_path, tiny_rubric):
    out = tmp_path / "out"
    grade_batch(broken_class, out, workers=2, rubric=tiny_rubric)
    record = out / "alice" / "record.json"
    record.write_text(record.read_text()[:100])
    again = grade_batch(broken_class, out, workers=2, rubric=tiny_rubric)
    assert again.graded == ("alice",) and again.reused == ("bob", "carol")


def test_grade_batch_refuses_to_write_into_the_submissions(broken_class, tiny_rubric):
    with pytest.raises(LabError, match="is the submissions folder"):
        grade_batch(broken_class, broken_class, rubric=tiny_rubric)


# The command line ---------------------------------------------------------------------------


def test_the_command_prints_a_summary_and_exits_0(broken_class, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["-q", "grade-batch", str(broken_class), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "3 students: 3 graded now, 0 reused from before, 3 with errors." in printed
    assert "carol: several_notebooks: " in printed
    assert f"Grades: {out / 'grades.csv'}" in printed


def test_nothing_to_grade_exits_2_naming_the_layouts(tmp_path, capsys):
    assert main(["grade-batch", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "Accepted layouts: " in capsys.readouterr().err


def test_workers_below_1_exit_2(broken_class, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["grade-batch", str(broken_class), "--out", str(out), "--workers", "0"]) == 2
    assert "--workers is 0; expected at least 1" in capsys.readouterr().err


def test_a_bad_rubric_exits_2_before_grading(broken_class, tmp_path, capsys):
    rubric = tmp_path / "rubric.toml"
    rubric.write_text("[limits]\ncell_timeout_s = -1\n")
    out = tmp_path / "out"
    command = ["grade-batch", str(broken_class), "--out", str(out), "--rubric", str(rubric)]
    assert main(command) == 2
    assert "cell_timeout_s is -1" in capsys.readouterr().err
    assert not out.exists()


def test_missing_mnist_exits_2(tmp_path):
    # In a subprocess: --mnist sets MNIST_PATH, which the session's gradings also read.
    folder = _make(tmp_path / "class", {"alice.ipynb": _fixture("tiny_lab")})
    nowhere = tmp_path / "nowhere.npz"
    command = ["--mnist", str(nowhere), "grade-batch", str(folder), "--out", str(tmp_path / "o")]
    completed = subprocess.run(
        [sys.executable, "-m", "mnist_lab", *command], capture_output=True, text=True
    )
    assert completed.returncode == 2
    assert "local copy of mnist.npz" in completed.stderr


# With kernels -------------------------------------------------------------------------------


def test_a_failing_grader_is_that_students_error_and_retried_next_time(tmp_path, tiny_rubric):
    # A checker that must answer within 1 s never does (it loads TensorFlow first): a real
    # GradingError, for the notebook that runs; the broken one is graded all the same.
    impatient = replace(tiny_rubric, limits=replace(tiny_rubric.limits, checker_timeout_s=1))
    folder = _make(tmp_path / "class", {"ann.ipynb": _fixture("tiny_lab"), "bo.ipynb": BROKEN})
    out = tmp_path / "out"
    summary = grade_batch(folder, out, workers=2, rubric=impatient)
    rows = _rows(out)
    assert rows["ann"]["status"] == GRADER_ERROR and rows["ann"]["score"] == ""
    assert "did not answer within 1 s" in summary.records[0].message
    assert rows["bo"]["status"] == UNREADABLE
    assert read_record(out / "ann") is None  # never stored, so never reused
    again = grade_batch(folder, out, workers=1, rubric=impatient)
    assert again.graded == ("ann",) and again.reused == ("bo",)


def _descendants(pid: int) -> set[int]:
    """Every live process under ``pid`` (Linux /proc)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError), open(f"/proc/{entry}/stat") as stat:
                parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@contextlib.contextmanager
def _ctrl_c_as_in_a_terminal():
    """Processes started here get SIGINT's default action, as from a terminal, even when the
    tests run as a background job, which ignores SIGINT (and its children inherit that)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # reset by exec
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _signal_masks(pid: int) -> str:
    """The process's blocked, ignored and caught signals, as /proc shows them."""
    with contextlib.suppress(OSError):
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        return "; ".join(line for line in status if line.startswith(("SigBlk", "SigIgn", "SigCgt")))
    return "(gone)"


def _kernel_running_cells(pid: int) -> bool:
    """Whether a kernel under ``pid`` has loaded TensorFlow's library: it runs a lab's cells
    (its size would not tell: a notebook dividing MNIST into float64 is as big, without it)."""
    for child in _descendants(pid):
        with contextlib.suppress(OSError):
            command = Path(f"/proc/{child}/cmdline").read_bytes()
            if (
                b"ipykernel_launcher" in command
                and "/libtensorflow" in Path(f"/proc/{child}/maps").read_text()
            ):
                return True
    return False


def _batch_command(folder: Path, out: Path, rubric: Path) -> list[str]:
    options = ["--out", str(out), "--workers", "2", "--rubric", str(rubric)]
    return [sys.executable, "-m", "mnist_lab", "-q", "grade-batch", str(folder), *options]


@pytest.fixture
def tiny_rubric_file(tmp_path, tiny_rubric):
    """`tiny_rubric` as a file, for the command line."""
    text = Path(tiny_rubric.source).read_text()
    for key, value in TINY_THRESHOLDS.items():
        text, count = re.subn(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.MULTILINE)
        assert count == 1, key
    path = tmp_path / "rubric.toml"
    path.write_text(text)
    return path


def _wait_for(condition, timeout: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.2)


def test_a_killed_batch_resumes_and_matches_grading_each_alone(tmp_path, tiny_rubric_file, graded):
    # One lab that trains (killed while it runs) and two that fail in seconds, with no
    # TensorFlow: the rerun regrades the one, and reuses what finished.
    names = ("always_equal_objects", "exception_in_early_cell", "tiny_lab")
    folder = _make(tmp_path / "class", {f"{name}.ipynb": _fixture(name) for name in names})
    _make(folder, {"zz_broken.ipynb": BROKEN})
    out = tmp_path / "out"
    command = _batch_command(folder, out, tiny_rubric_file)
    batch = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    started: set[int] = set()
    try:
        _wait_for(lambda: any(out.glob("*/record.json")), KILL_AFTER_S, batch)
        _wait_for(lambda: _kernel_running_cells(batch.pid), KILL_AFTER_S, batch)
        started = _descendants(batch.pid)
        batch.kill()  # SIGKILL while tiny_lab trains: no clean-up of any kind
        batch.wait()
    finally:
        batch.kill()
        for pid in started:  # its kernels outlive it (their sandboxes wait on them)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    finished = {path.parent.name for path in out.glob("*/record.json")}
    rows = _rows(out)
    assert set(rows) <= finished and len(finished) < 4, (rows, finished)
    assert all(all(value != "" for value in row.values()) for row in rows.values())

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=KILL_AFTER_S)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(finished)} reused from before" in rerun.stdout
    rows = _rows(out)
    assert list(rows) == [*sorted(names), "zz_broken"]
    for name in names:
        alone = graded(name)
        expected = [alone.score, alone.max_score, *(alone.check(c).points for c in CHECK_NAMES)]
        row = rows[name]
        assert row["status"] == GRADED
        assert [float(row[key]) for key in ("score", "max_score", *CHECK_NAMES)] == expected
    assert rows["zz_broken"]["status"] == UNREADABLE and rows["zz_broken"]["score"] == "0"
    assert not list(out.glob("*/.*.partial")) and not list(out.glob(".*.partial"))


def test_ctrl_c_stops_the_kernels_keeps_what_finished_and_exits_130(tmp_path, tiny_rubric_file):
    folder = _make(
        tmp_path / "class", {"aa_broken.ipynb": BROKEN, "tiny.ipynb": _fixture("tiny_lab")}
    )
    out = tmp_path / "out"
    with _ctrl_c_as_in_a_terminal():
        batch = subprocess.Popen(
            _batch_command(folder, out, tiny_rubric_file),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    try:
        _wait_for(lambda: (out / "aa_broken" / "record.json").exists(), KILL_AFTER_S, batch)
        _wait_for(lambda: _kernel_running_cells(batch.pid), KILL_AFTER_S, batch)
        started = _descendants(batch.pid)
        signals = _signal_masks(batch.pid)  # to tell a blocked or ignored SIGINT, should it fail
        interrupted = time.monotonic()
        batch.send_signal(signal.SIGINT)
        stdout, stderr = batch.communicate(timeout=60)
        seconds = time.monotonic() - interrupted
    finally:
        if batch.poll() is None:
            batch.kill()
    assert batch.returncode == 130, (stdout, stderr, signals, seconds)
    assert "interrupted; run the same command again to resume" in stderr
    assert seconds < 30
    deadline = time.monotonic() + 15  # the sandbox ends what is left of the kernel
    while any(_alive(pid) for pid in started) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in started if _alive(pid)]
    assert list(_rows(out)) == ["aa_broken"]
    assert not (out / "tiny" / "record.json").exists()
