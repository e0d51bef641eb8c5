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


# A notebook that says, through the scan check's message, what it was given and what it sees.
SHOWS_WHAT_IT_GETS = """\
import os

def preprocess_scan(path):
    raise ValueError(f"given {path} beside {sorted(os.listdir('.'))}")
"""


@pytest.fixture(scope="module")
def shown(tmp_path_factory, tiny_checker):
    """The scan check's message, graded twice: files beside the notebook copied, and not."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from mnist_lab.grading.grade import grade_submission

    folder = tmp_path_factory.mktemp("shows-what-it-gets")
    notebook = folder / "shows_what_it_gets.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(SHOWS_WHAT_IT_GETS)]), notebook)
    (folder / "digit.png").write_bytes(b"")
    return {
        copy: grade_submission(notebook, checker=tiny_checker, copy_siblings=copy)
        .check("scan_preprocessing")
        .message
        for copy in (True, False)
    }


def test_preprocess_scan_is_given_paths_that_do_not_name_the_label(shown):
    """A scan's file name (``7_plain_1.png``) would hand a notebook the hidden check's answer."""
    import re

    from mnist_lab.paths import sample_images_dir
    from mnist_lab.scans import read_manifest

    given = re.search(r"given (\S+) beside", shown[True])
    assert given, shown[True]
    path = given.group(1)
    names = {sample.path.name for sample in read_manifest(sample_images_dir())}
    assert os.path.basename(path) not in names
    assert re.fullmatch(r"[0-9a-f]{16}\.(png|jpe?g|bmp|gif|tiff?|webp)", os.path.basename(path))
    assert str(sample_images_dir()) not in path


def test_files_beside_the_notebook_are_copied_unless_told_not_to(shown):
    assert "'digit.png'" in shown[True]
    assert "'digit.png'" not in shown[False] and "beside [" in shown[False]
