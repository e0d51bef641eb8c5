"""`mnist_lab.quiet`: TensorFlow's start-up lines kept off descriptor 2, which is silenced once."""

from __future__ import annotations

import contextlib
import os

from mnist_lab import quiet


def test_descriptor_2_is_silenced_while_the_block_runs_and_restored_after(tmp_path):
    log = tmp_path / "stderr.txt"
    saved = os.dup(2)
    try:
        with open(log, "wb") as file:
            os.dup2(file.fileno(), 2)
            os.write(2, b"before\n")
            with quiet.stderr_fd_silenced():
                os.write(2, b"hidden\n")
            os.write(2, b"after\n")
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    assert log.read_bytes() == b"before\nafter\n"


def test_tensorflow_is_imported_quietly_once_per_process(monkeypatch):
    silenced = []

    @contextlib.contextmanager
    def counting():
        silenced.append(True)
        yield

    monkeypatch.setattr(quiet, "_imported", False)
    monkeypatch.setattr(quiet, "stderr_fd_silenced", counting)
    quiet.import_tensorflow_quietly()
    quiet.import_tensorflow_quietly()  # a second report in the same process
    assert len(silenced) == 1
