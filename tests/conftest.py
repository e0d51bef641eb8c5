"""Shared fixtures: the verified MNIST file that CI provides beside the project."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_MNIST = PROJECT_ROOT.parent / "shared" / "data" / "mnist.npz"


@pytest.fixture(scope="session")
def mnist_path() -> Path:
    """The real mnist.npz: $MNIST_PATH, else ../shared/data/mnist.npz.

    The tests need the real file (no network here); a missing file is a set-up error,
    reported as a failure rather than a skip.
    """
    path = Path(os.environ.get("MNIST_PATH") or SHARED_MNIST).resolve()
    if not path.is_file():
        pytest.fail(f"MNIST file not found at {path}; set MNIST_PATH to a copy of mnist.npz")
    return path


@pytest.fixture(scope="session", autouse=True)
def _mnist_path_for_kernels(mnist_path):
    """Notebook kernels started by the tests inherit MNIST_PATH, as under `.ci/run`."""
    previous = os.environ.get("MNIST_PATH")
    os.environ["MNIST_PATH"] = str(mnist_path.resolve())
    yield
    if previous is None:
        os.environ.pop("MNIST_PATH", None)
    else:
        os.environ["MNIST_PATH"] = previous
