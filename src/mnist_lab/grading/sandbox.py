"""Start the student's kernel and, when it ends, end every process it left behind.

Usage: ``python -I sandbox.py -- KERNEL COMMAND ...`` (the grader puts this in front of the
kernel command). On Linux this process becomes a "child subreaper": a process the student's
code starts and detaches (a double fork, a new session) is re-parented here instead of to
init, so that once the kernel exits it is found and killed. Without that, a detached
process could outlive the grading and rewrite results.json after the grader wrote it.

The kernel shares this process's process group, so interrupts sent to the group reach it;
this process itself ignores them. It imports only the standard library, so it starts fast
and does not depend on the code it guards.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36  # from <linux/prctl.h>
CLEANUP_SECONDS = 5.0


def become_subreaper() -> bool:
    """Ask Linux to re-parent orphaned descendants to this process; False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _children(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        state, ppid = fields[0], int(fields[1])
        if ppid == parent and state != "Z":
            found.append(int(entry))
    return found


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def end_descendants(timeout: float = CLEANUP_SECONDS) -> None:
    """Kill every remaining descendant: each killed process's children come here next."""
    if not os.path.isdir("/proc"):
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap()
        children = _children(os.getpid())
        if not children:
            return
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)


def main(argv: list[str]) -> int:
    command = argv[argv.index("--") + 1 :] if "--" in argv else argv
    if not command:
        print("usage: sandbox.py -- KERNEL COMMAND ...", file=sys.stderr)
        return 2
    become_subreaper()
    # A Python-level handler, not SIG_IGN: the kernel must not inherit an ignored SIGINT.
    signal.signal(signal.SIGINT, lambda *_: None)
    kernel = subprocess.Popen(command)
    signal.signal(signal.SIGTERM, lambda *_: kernel.kill())
    code = kernel.wait()
    end_descendants()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
