"""The sandbox's memory and disk limits and its report on how the kernel ended, with plain
commands.

Each test runs ``sandbox.py`` around a small Python command instead of a kernel, so it takes
a second or two. The memory limits here are small (200-300 MB) and the commands allocate in
steps, as a notebook would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from mnist_lab.grading import sandbox

pytestmark = [
    pytest.mark.skipif(
        not sys.platform.startswith("linux"), reason="the memory watch reads Linux's /proc"
    ),
    pytest.mark.limits,
]

# Grows by 10 MB a step, and keeps what it allocated.
GROWS = "hoard = []\nwhile True:\n    hoard.append(b'x' * 10_000_000)"
# A detached grandchild grows while the kernel stand-in itself stays small.
DETACHED_GROWS = f"""\
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", {GROWS!r}], start_new_session=True)
time.sleep(60)
"""


def run(command: str, tmp_path, memory_limit_mb: int | None = None, **disk):
    """Run ``python -c command`` in the sandbox (in ``tmp_path/work``); the completed
    process and the report. ``disk``: `sandbox.wrapper_command`'s disk options."""
    report = tmp_path / "kernel-end.json"
    wrapper = sandbox.wrapper_command(memory_limit_mb=memory_limit_mb, report=report, **disk)
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    completed = subprocess.run(
        [*wrapper, sys.executable, "-c", command],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=work,
    )
    return completed, sandbox.read_report(report)


@pytest.mark.parametrize("command", [GROWS, DETACHED_GROWS], ids=["kernel", "detached child"])
def test_a_tree_over_the_memory_limit_is_killed_and_reported(tmp_path, command):
    started = time.monotonic()
    completed, report = run(command, tmp_path, memory_limit_mb=250)
    assert time.monotonic() - started < 30  # not the 60 s the command would sleep
    assert completed.returncode != 0
    assert report["reason"] == "memory" and report["limit_mb"] == 250
    assert 250 <= report["used_mb"] < 1000  # over 250 MB, rounded down to whole MB
    assert "used more than 250 MB of memory" in sandbox.explain_end(report)


def test_an_allocation_past_the_backstop_is_a_memory_error_not_a_crash(tmp_path):
    """One allocation of 3 times the limit: the data limit refuses it at once."""
    command = "try:\n    bytearray(750_000_000)\nexcept MemoryError:\n    print('refused')"
    completed, report = run(command, tmp_path, memory_limit_mb=250)
    assert completed.stdout.strip() == "refused"
    assert report == {"reason": "exit", "status": 0}


def test_a_program_within_the_limit_runs_to_its_end(tmp_path):
    command = "data = b'x' * 50_000_000\nprint(len(data))"
    completed, report = run(command, tmp_path, memory_limit_mb=250)
    assert completed.stdout.strip() == "50000000"
    assert report == {"reason": "exit", "status": 0}


# Writes 20 MB files into its working folder without end.
FILLS_FOLDER = """\
import time
for number in range(10_000):
    with open(f"filler-{number}.bin", "wb") as file:
        file.write(bytes(20_000_000))
    time.sleep(0.01)
"""


STOPPED_WITHIN_MB = int(3 * 1000 * sandbox.DISK_POLL_SECONDS)


def test_files_over_the_disk_limit_stop_the_tree_and_are_reported(tmp_path):
    work = tmp_path / "work"
    completed, report = run(FILLS_FOLDER, tmp_path, disk_limit_mb=100, disk_folders=(work,))
    assert completed.returncode != 0
    assert report["reason"] == "disk" and report["limit_mb"] == 100
    # The disk is summed once a second (DISK_POLL_SECONDS), and this writer fills up to
    # about 1 GB a second: it stops within a few seconds' worth, far from its 200 GB.
    assert 100 <= report["used_mb"] < STOPPED_WITHIN_MB  # over 100 MB, rounded down
    written = sum(path.stat().st_size for path in work.iterdir()) // sandbox.MB
    assert written < STOPPED_WITHIN_MB
    assert "wrote more than 100 MB of files" in sandbox.explain_end(report)


def test_one_file_past_the_disk_limit_fails_its_write_at_once(tmp_path):
    command = (
        "try:\n    open('big.bin', 'wb').write(bytes(150_000_000))\n"
        "except OSError as error:\n    print(error.strerror)"
    )
    work = tmp_path / "work"
    completed, report = run(command, tmp_path, disk_limit_mb=100, disk_folders=(work,))
    assert completed.stdout.strip() == "File too large"
    assert (work / "big.bin").stat().st_size <= 100 * sandbox.MB
    assert report == {"reason": "exit", "status": 0}


def test_files_within_the_disk_limit_are_kept(tmp_path):
    command = "open('model.keras', 'wb').write(bytes(30_000_000))"
    work = tmp_path / "work"
    completed, report = run(command, tmp_path, disk_limit_mb=100, disk_folders=(work,))
    assert report == {"reason": "exit", "status": 0}, completed.stderr
    assert (work / "model.keras").stat().st_size == 30_000_000


@pytest.mark.parametrize(
    ("command", "report", "phrase"),
    [
        ("import os\nos._exit(3)", {"reason": "exit", "status": 3}, "exit status 3"),
        (
            "import ctypes\nctypes.string_at(0)",
            {"reason": "signal", "signal": 11},
            "signal SIGSEGV (a segmentation fault",
        ),
        (
            "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
            {"reason": "signal", "signal": 9},
            "system running out of memory",
        ),
    ],
    ids=["os._exit", "segfault", "killed"],
)
def test_how_the_kernel_ended_is_reported(tmp_path, command, report, phrase):
    _, written = run(command, tmp_path)
    assert written == report
    assert phrase in sandbox.explain_end(written)


@pytest.mark.parametrize(
    "text",
    [
        '["not", "a", "report"]',
        '{"reason": ["memory"]}',
        '{"reason": "signal", "signal": "11"}',
        '{"reason": "memory", "limit_mb": 100}',
        '{"reason": "flood"}',
        "not json",
    ],
)
def test_a_report_the_sandbox_did_not_write_is_ignored(tmp_path, text):
    """The notebook can write where the report goes: only the sandbox's form is read."""
    (tmp_path / "odd.json").write_text(text)
    assert sandbox.read_report(tmp_path / "odd.json") is None


def test_without_a_report_there_is_no_explanation(tmp_path):
    assert sandbox.read_report(tmp_path / "none.json") is None
    assert sandbox.explain_end(None) is None


def test_the_tree_and_its_memory_are_read_from_proc():
    """A grandchild is found below its parent, with its memory; once killed, it is gone."""
    sleeper = "import subprocess, sys, time\n" + (
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])\ntime.sleep(30)"
    )
    child = subprocess.Popen([sys.executable, "-c", sleeper])
    try:
        deadline = time.monotonic() + 20
        while not (below := sandbox.descendants(child.pid)):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert child.pid in sandbox.descendants(os.getpid())
        assert sandbox.resident_bytes(below[0]) > 1_000_000
    finally:
        for pid in [*sandbox.descendants(child.pid), child.pid]:
            os.kill(pid, signal.SIGKILL)
        child.wait()
    assert sandbox.resident_bytes(child.pid) == 0


# A grader stand-in: starts the sandbox around a long sleep, says both pids, then waits.
GRADER = """\
import subprocess, sys
sandbox = subprocess.Popen(sys.argv[1:] + [sys.executable, "-c", "import time; time.sleep(60)"])
print(sandbox.pid, flush=True)
sandbox.wait()
"""


def _alive(pid: int) -> bool:
    return sandbox._state(pid) not in (None, "Z")


def test_when_the_grader_is_killed_the_kernel_is_ended(tmp_path):
    """A grader killed with SIGKILL cannot end its kernels: the sandbox must notice and do it."""
    wrapper = sandbox.wrapper_command(report=tmp_path / "kernel-end.json")
    grader = subprocess.Popen(
        [sys.executable, "-c", GRADER, *wrapper], stdout=subprocess.PIPE, text=True
    )
    sandbox_pid = int(grader.stdout.readline())
    deadline = time.monotonic() + 10
    while not sandbox.descendants(sandbox_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    kernel_pids = sandbox.descendants(sandbox_pid)
    assert kernel_pids, "the sandbox never started its kernel"
    os.kill(grader.pid, signal.SIGKILL)
    grader.wait()
    deadline = time.monotonic() + 10
    while any(map(_alive, [sandbox_pid, *kernel_pids])) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(map(_alive, [sandbox_pid, *kernel_pids]))
    assert sandbox.read_report(tmp_path / "kernel-end.json") == {"reason": "orphaned"}
