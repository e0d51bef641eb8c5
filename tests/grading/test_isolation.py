"""The isolation pieces on their own: signed messages, and the sandbox's clean-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from mnist_lab.grading import protocol, sandbox


def test_a_signed_message_opens_only_with_its_key():
    key = protocol.new_key()
    line = protocol.seal(key, {"kind": "results", "score": 1})
    assert protocol.unseal(key, line) == {"kind": "results", "score": 1}
    assert protocol.unseal(protocol.new_key(), line) is None


@pytest.mark.parametrize(
    "line",
    [
        b'{"kind": "results", "checks": []}\n',  # unsigned
        b"not json\n",
        b'{"body": "{}", "mac": 5}\n',
    ],
)
def test_forged_lines_are_ignored(line):
    assert protocol.unseal(protocol.new_key(), line) is None


def test_a_tampered_body_is_refused():
    key = protocol.new_key()
    frame = json.loads(protocol.seal(key, {"kind": "results", "score": 1}))
    frame["body"] = frame["body"].replace("1", "100")
    assert protocol.unseal(key, json.dumps(frame).encode()) is None


DETACHES = """\
import subprocess, sys, time
child = subprocess.Popen(
    [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
)
print(child.pid, flush=True)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="subreapers are Linux-only")
def test_the_sandbox_ends_processes_the_kernel_detached():
    completed = subprocess.run(
        [sys.executable, "-I", sandbox.__file__, "--", sys.executable, "-c", DETACHES],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    detached = int(completed.stdout.strip())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(detached):
        time.sleep(0.1)
    assert not _alive(detached)


def test_the_sandbox_passes_on_the_kernels_exit_status():
    command = [sys.executable, "-I", sandbox.__file__, "--", sys.executable, "-c", "exit(3)"]
    assert subprocess.run(command, timeout=60).returncode == 3


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        return os.path.exists(f"/proc/{pid}")
