"""A grader running as root runs each kernel as an unprivileged user of its own.

The tests that start kernels need root (only root can switch users); they are skipped
elsewhere, where kernels run as the grader's own user (autograder/README.md, "Limits of
this design"). CI and Gradescope run as root.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from mnist_lab.grading import kernel_user, sandbox
from tests.fixtures import submissions
from tests.fixtures.submissions.broken import PREP_PASSES
from tests.grading.conftest import grade_as_ci, run_as_ci

needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="only a grader running as root can run kernels as other users",
)


@pytest.fixture
def as_root(monkeypatch):
    monkeypatch.setattr(kernel_user.os, "geteuid", lambda: 0)
    monkeypatch.delenv(kernel_user.ENV_VAR, raising=False)


def test_kernels_get_a_user_of_their_own_only_when_the_grader_is_root(monkeypatch):
    monkeypatch.delenv(kernel_user.ENV_VAR, raising=False)
    monkeypatch.setattr(kernel_user.os, "geteuid", lambda: 1000)
    assert kernel_user.acquire() is None
    monkeypatch.setattr(kernel_user.os, "geteuid", lambda: 0)
    assert kernel_user.wanted()
    monkeypatch.setenv(kernel_user.ENV_VAR, "same")
    assert kernel_user.acquire() is None


def test_each_run_gets_a_different_user_that_is_no_account(as_root):
    users = [kernel_user.acquire() for _ in range(200)]
    try:
        uids = [user.uid for user in users]
        assert len(set(uids)) == len(uids)
        assert all(uid in kernel_user.UID_RANGE for uid in uids)
        assert not any(kernel_user._is_account(uid) for uid in uids)
    finally:
        for user in users:
            kernel_user.release(user)
    assert not kernel_user._taken


@pytest.fixture
def two_uids(monkeypatch):
    """Kernel uids narrowed to two free ones: (the first, the second)."""
    busy = kernel_user._uids_of_processes()
    first = next(
        uid
        for uid in kernel_user.UID_RANGE[:-1]
        if not {uid, uid + 1} & busy and not any(map(kernel_user._is_account, (uid, uid + 1)))
    )
    monkeypatch.setattr(kernel_user, "UID_RANGE", range(first, first + 2))
    return first, first + 1


HOLD_LOCK = """
import fcntl, os, sys
descriptor = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(descriptor, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


@needs_root
def test_a_uid_another_grader_holds_is_never_handed_out(two_uids):
    held, free = two_uids
    kernel_user.LOCK_FOLDER.mkdir(mode=0o700, exist_ok=True)
    other_grader = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(kernel_user.LOCK_FOLDER / str(held))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other_grader.stdout.readline() == "held\n"
        for _ in range(20):
            user = kernel_user.acquire()
            kernel_user.release(user)
            assert user.uid == free
        mine = kernel_user.acquire()
        with pytest.raises(RuntimeError, match="is in use by an account, a process or another"):
            kernel_user.acquire()  # both taken
        kernel_user.release(mine)
    finally:
        other_grader.communicate("")
    uids = set()
    for _ in range(40):  # the other grader is gone: its uid is free again
        user = kernel_user.acquire()
        kernel_user.release(user)
        uids.add(user.uid)
    assert uids == {held, free} and not kernel_user._taken


@needs_root
def test_a_uid_that_a_process_still_runs_as_is_never_handed_out(two_uids):
    busy, free = two_uids
    leftover = subprocess.Popen(["sleep", "60"], user=busy, group=busy, extra_groups=[])
    try:
        for _ in range(20):
            user = kernel_user.acquire()
            kernel_user.release(user)
            assert user.uid == free
    finally:
        leftover.kill()
        leftover.wait()


def test_data_in_a_private_folder_is_linked_or_copied_where_others_can_read_it(tmp_path):
    private = tmp_path / "private"
    (private / "scans").mkdir(parents=True)
    (private / "mnist.npz").write_bytes(b"data")
    (private / "mnist.npz").chmod(0o600)
    (private / "scans" / "7.png").write_bytes(b"png")
    private.chmod(0o700)
    open_folder = tmp_path / "open"
    open_folder.mkdir()

    copy = kernel_user.readable_copy(private / "mnist.npz", open_folder / "mnist.npz")
    scans = kernel_user.readable_copy(private / "scans", open_folder / "scans")

    assert copy.read_bytes() == b"data" and copy.stat().st_mode & 0o777 == 0o644
    assert (private / "mnist.npz").stat().st_mode & 0o777 == 0o600  # the original unchanged
    assert (scans / "7.png").read_bytes() == b"png" and scans.stat().st_mode & 0o005 == 0o005
    assert (scans / "7.png").stat().st_mode & 0o004


@needs_root
def test_a_python_the_user_cannot_reach_leaves_kernels_as_root_with_a_warning(
    tmp_path, monkeypatch, caplog
):
    hidden = tmp_path / "root-only"
    hidden.mkdir()
    hidden.chmod(0o700)
    (hidden / "python").symlink_to(sys.executable)
    monkeypatch.setattr(kernel_user.sys, "executable", str(hidden / "python"))
    monkeypatch.setattr(kernel_user, "_preflight", {})
    monkeypatch.delenv(kernel_user.ENV_VAR, raising=False)
    with caplog.at_level(logging.WARNING, logger=kernel_user.__name__):
        assert kernel_user.acquire() is None
        assert kernel_user.acquire() is None  # found out once, said once
    [warning] = caplog.messages
    assert "cannot start the kit's Python" in warning and "PermissionError" in warning
    assert "Let other users pass through" in warning and f"{hidden} (`chmod o+x" in warning
    assert not kernel_user._taken


@pytest.fixture
def passable_folder():
    """A temporary folder others may pass through (pytest's own are root's alone)."""
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o711)
        yield Path(folder)


@needs_root
def test_the_kernel_runs_unprivileged_and_cannot_signal_its_sandbox(passable_folder):
    tmp_path = passable_folder
    home = tmp_path / "home"
    home.mkdir()
    uid = kernel_user.UID_RANGE[1]
    os.chown(home, uid, uid)
    connection = tmp_path / "kernel.json"
    connection.write_text('{"key": "secret"}')
    connection.chmod(0o600)
    probe = (
        "import json, os, signal, sys\n"
        "seen = {'uid': os.getuid(), 'gid': os.getgid(), 'groups': os.getgroups(),\n"
        "        'home': os.environ['HOME'], 'connection': open(sys.argv[2]).read()}\n"
        "try:\n"
        "    os.kill(os.getppid(), signal.SIGKILL)\n"
        "    seen['kill'] = 'sent'\n"
        "except PermissionError:\n"
        "    seen['kill'] = 'refused'\n"
        "print(json.dumps(seen))\n"
    )
    wrapper = sandbox.wrapper_command(uid=uid, home=home)
    completed = subprocess.run(
        [*wrapper, sys.executable, "-c", probe, "-f", str(connection)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    seen = json.loads(completed.stdout)
    assert (seen["uid"], seen["gid"], seen["groups"]) == (uid, uid, [])
    assert seen["home"] == str(home) and seen["connection"] == '{"key": "secret"}'
    assert seen["kill"] == "refused"


@needs_root
def test_a_notebook_that_kills_its_sandbox_cannot_rewrite_its_results(tmp_path):
    """Run `mnist-lab grade` as CI does: the notebook finds --out from the process tree,
    leaves a process rewriting results.json, and tries to kill the sandbox guarding it."""
    out = grade_as_ci("kills_its_sandbox", tmp_path)
    time.sleep(2)  # the detached writer tried every 0.25 s while it lived
    results = json.loads((out / "results.json").read_text())
    assert "HACKED" not in json.dumps(results)
    passed = [test for test in results["tests"] if test["status"] == "passed"]
    assert len(passed) == len(PREP_PASSES) and results["score"] == 30  # its honest points
    assert "PermissionError" in results["output"]


@needs_root
def test_a_batch_survives_a_notebook_that_signals_every_process(tmp_path):
    """`os.kill(-1, SIGKILL)` from a kernel running as root would end the whole machine."""
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("kills_every_process", "kills_its_sandbox"):
        (folder / f"{name}.ipynb").write_bytes(submissions.path(name).read_bytes())
    out = tmp_path / "graded"
    run_as_ci("grade-batch", str(folder), "--out", str(out))
    rows = (out / "grades.csv").read_text()
    assert rows.count(",graded,") == 2 and "HACKED" not in rows, rows


@needs_root
def test_a_notebook_starting_processes_without_end_meets_the_process_limit(tmp_path):
    out = grade_as_ci("spawns_processes", tmp_path)
    results = json.loads((out / "results.json").read_text())
    assert results["score"] == 30  # its honest points: the data steps
    assert "BlockingIOError" in results["output"]  # the process limit, in its cell
    left = subprocess.run(["pgrep", "-f", "^sleep 600$"], capture_output=True, text=True)
    assert left.stdout == "", "the sleepers outlived the grading"


@needs_root
def test_dev_shm_counts_as_memory_and_what_a_kernel_leaves_behind_is_removed(passable_folder):
    """tmpfs files are memory no process's RSS shows; /dev/shm here is as big as the RAM."""
    uid = kernel_user.UID_RANGE[2]
    home = passable_folder / "home"
    home.mkdir()
    os.chown(home, uid, uid)
    token = secrets.token_hex(4)
    left, bomb = Path(f"/tmp/left-{token}"), Path(f"/dev/shm/bomb-{token}")
    code = (
        f"open({str(left)!r}, 'w').write('x')\n"
        f"with open({str(bomb)!r}, 'wb') as file:\n"
        "    for _ in range(400):\n"
        "        file.write(bytes(2**20)); file.flush()\n"
        "import time; time.sleep(60)\n"
    )
    report = passable_folder / "report.json"
    wrapper = sandbox.wrapper_command(memory_limit_mb=200, report=report, uid=uid, home=home)
    started = time.monotonic()
    subprocess.run([*wrapper, sys.executable, "-c", code], timeout=120, check=False)
    assert time.monotonic() - started < 30  # stopped at the limit, not after its sleep
    ended = sandbox.read_report(report)
    # Stopped over the limit; the report rounds down to whole MB, so 200.4 MB reads 200.
    assert ended["reason"] == "memory" and ended["used_mb"] >= 200
    assert not left.exists() and not bomb.exists()
