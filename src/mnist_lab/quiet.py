"""Keep TensorFlow's start-up noise off the user's terminal.

TensorFlow's C++ core writes informational lines (oneDNN, CPU features) straight to file
descriptor 2 when it loads, whatever ``TF_CPP_MIN_LOG_LEVEL`` says. The kit imports it once
with that descriptor pointed at /dev/null; Python errors are raised as usual.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_import_lock = threading.Lock()
_imported = False  # set once TensorFlow has been imported and run its first op here


@contextmanager
def stderr_fd_silenced() -> Iterator[None]:
    """Send what is written to file descriptor 2 to /dev/null while the block runs."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow and Keras without their C++ start-up lines, once per process.

    Later calls return at once: descriptor 2 is the whole process's, so silencing it again
    (a report built in one thread of a batch) would also hide what other threads and the
    processes they start write there meanwhile.
    """
    global _imported
    with _import_lock:
        if _imported:
            return
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with stderr_fd_silenced():
            import keras  # noqa: F401
            import tensorflow as tf

            tf.constant(0)  # the first op loads the last kernels, which log again
        _imported = True
