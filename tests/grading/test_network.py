"""A graded notebook reaches no network: not this machine's services, not another kernel, not
the outside; unless the rubric says the lab needs one (``[limits] network = true``)."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from dataclasses import replace

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from mnist_lab.grading import grade, sandbox
from mnist_lab.grading.grade import Checker, grade_submission

needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0 or not sys.platform.startswith("linux"),
    reason="only a grader running as root on Linux can give a kernel a network of its own",
)

# Each cell tries one way out; a cell that fails costs only itself.
REACHES_OUT = [
    "import socket, urllib.request",
    # A service of the grading machine, on its loopback.
    "socket.create_connection(('127.0.0.1', {listener}), timeout=5).sendall(b'leaked')",
    # Another student's kernel, on its shell port.
    "socket.create_connection(('127.0.0.1', {kernel}), timeout=5).sendall(b'hello')",
    # An address outside (TEST-NET-3).
    "socket.create_connection(('203.0.113.7', 80), timeout=5).sendall(b'score=100')",
    # A download by name.
    "urllib.request.urlopen('http://example.com/answers.txt', timeout=5).read()",
    "still_runs = True",
]


class Listener:
    """A TCP service on the grading machine's 127.0.0.1; `received` says what reached it."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.setblocking(False)
        self.port = self.server.getsockname()[1]

    def received(self) -> bytes | None:
        try:
            connection, _ = self.server.accept()
        except BlockingIOError:
            return None
        with connection:
            connection.settimeout(5)
            return connection.recv(100)


@pytest.fixture
def listener():
    listener = Listener()
    yield listener
    listener.server.close()


@pytest.fixture
def other_kernel():
    """A real Jupyter kernel of the grading machine, on TCP ports, as another grader's."""
    from jupyter_client.manager import KernelManager

    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(stderr=subprocess.DEVNULL)
    yield manager
    manager.shutdown_kernel(now=True)


def _notebook(folder, listener, other_kernel):
    ports = {"listener": listener.port, "kernel": other_kernel.shell_port}
    cells = [new_code_cell(source.format(**ports)) for source in REACHES_OUT]
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    path = folder / "reaches_out.ipynb"
    nbformat.write(notebook, path)
    return path


def _rubric(tiny_rubric, *, network: bool):
    return replace(tiny_rubric, limits=replace(tiny_rubric.limits, network=network))


@pytest.fixture(scope="module")
def no_network(tiny_rubric, mnist_path):
    """One checker for the tests that cut the network, with 256 MB of files a notebook."""
    rubric = _rubric(tiny_rubric, network=False)
    rubric = replace(rubric, limits=replace(rubric.limits, disk_limit_mb=256))
    with Checker.start(rubric, mnist_path=mnist_path) as checker:
        yield checker


@needs_root
def test_no_network_here_as_root():
    assert sandbox.network_isolation() is None


@needs_root
def test_the_sandbox_leaves_the_kernel_only_its_own_loopback():
    command = [*sandbox.wrapper_command(network=False), sys.executable, "-c", sandbox.PROBE]
    assert subprocess.run(command, capture_output=True, text=True).stdout.strip() == "lo"
    command = [*sandbox.wrapper_command(), sys.executable, "-c", sandbox.PROBE]
    assert subprocess.run(command, capture_output=True, text=True).stdout.strip() != "lo"


@needs_root
def test_every_way_out_fails_in_its_cell_and_nothing_arrives(
    tmp_path, no_network, listener, other_kernel
):
    notebook = _notebook(tmp_path, listener, other_kernel)
    results = grade_submission(notebook, checker=no_network, out_dir=tmp_path / "out")
    failed = {error.cell_number: error for error in results.cell_errors}
    assert sorted(failed) == [2, 3, 4, 5], failed
    assert "ConnectionRefusedError" in failed[2].message
    assert "ConnectionRefusedError" in failed[3].message
    assert "Network is unreachable" in failed[4].message
    assert "URLError" in failed[5].message
    assert grade.NO_NETWORK_HINT in failed[2].message  # in full once, then referred to
    assert all("No network while grading (see cell 2)" in failed[n].message for n in (3, 4, 5))
    assert listener.received() is None
    feedback = (tmp_path / "out" / "feedback.md").read_text()
    assert "Grading runs without a network" in feedback


@needs_root
def test_a_lab_that_needs_the_network_may_reach_it(tmp_path, tiny_rubric, listener, other_kernel):
    notebook = _notebook(tmp_path, listener, other_kernel)
    results = grade_submission(notebook, rubric=_rubric(tiny_rubric, network=True))
    assert 2 not in {error.cell_number for error in results.cell_errors}
    assert listener.received() == b"leaked"
    assert all("network" not in error.message for error in results.cell_errors)


def test_a_grader_that_cannot_cut_the_network_says_so_once_and_grades(monkeypatch, caplog):
    reason = "the grader is not running as root, which making a network namespace needs"
    monkeypatch.setattr(sandbox, "network_isolation", lambda: reason)
    grade._can_cut_network.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="mnist_lab.grading.grade"):
            assert grade._can_cut_network() is False
            assert grade._can_cut_network() is False
    finally:
        grade._can_cut_network.cache_clear()
    warnings = [r.getMessage() for r in caplog.records if "WITH network access" in r.getMessage()]
    assert len(warnings) == 1
    assert reason in warnings[0] and "network = true" in warnings[0]


FILLS_ITS_SOCKET_FOLDER = """\
import json, os
from ipykernel.connect import get_connection_file

folder = os.path.dirname(json.load(open(get_connection_file()))["ip"])
block = bytes(50_000_000)
for number in range(100):
    with open(os.path.join(folder, f"filler-{number}.bin"), "wb") as file:
        file.write(block)
"""


@needs_root
def test_files_written_where_the_kernel_s_sockets_are_count_toward_the_disk_limit(
    tmp_path, no_network
):
    notebook = new_notebook(cells=[new_code_cell(FILLS_ITS_SOCKET_FOLDER)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, tmp_path / "fills_its_socket_folder.ipynb")
    results = grade_submission(tmp_path / "fills_its_socket_folder.ipynb", checker=no_network)
    [error] = results.cell_errors
    assert (error.cell_number, error.kind) == (1, "dead kernel")
    assert "MB when it was stopped" in error.message
