"""MNIST that works offline.

`load_mnist()` returns exactly what `keras.datasets.mnist.load_data()` returns,
``((x_train, y_train), (x_test, y_test))``, but looks for the data in this order:

1. the ``path`` argument;
2. the ``MNIST_PATH`` environment variable;
3. the standard Keras cache file (``~/.keras/datasets/mnist.npz``, or under ``KERAS_HOME``);
4. a download through Keras.

Whatever the source, every array is verified (shape, dtype and the SHA-256 of its bytes)
before it is returned, and any problem raises `MnistDataError` with a message that says
what happened, what was expected and how to fix it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

ENV_VAR = "MNIST_PATH"


@dataclass(frozen=True)
class ArraySpec:
    """What one array of the MNIST file must be."""

    shape: tuple[int, ...]
    dtype: str
    sha256: str


# From the data README: the SHA-256 of each array's raw bytes in C order.
EXPECTED_ARRAYS: dict[str, ArraySpec] = {
    "x_train": ArraySpec(
        (60000, 28, 28), "uint8", "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757"
    ),
    "y_train": ArraySpec(
        (60000,), "uint8", "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13"
    ),
    "x_test": ArraySpec(
        (10000, 28, 28), "uint8", "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161"
    ),
    "y_test": ArraySpec(
        (10000,), "uint8", "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5"
    ),
}

HOW_TO_FIX = (
    "Point the kit at a good copy of mnist.npz (the file keras.datasets.mnist.load_data() "
    "downloads): pass path=..., or set the environment variable MNIST_PATH=/path/to/mnist.npz, "
    "or copy the file to {cache}."
)

MnistArrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class MnistDataError(ValueError):
    """The MNIST data could not be found, read or verified."""


def keras_cache_path() -> Path:
    """The file Keras downloads MNIST to: ``$KERAS_HOME/datasets/mnist.npz``."""
    keras_home = os.environ.get("KERAS_HOME") or Path.home() / ".keras"
    return Path(keras_home) / "datasets" / "mnist.npz"


def _fix_hint() -> str:
    return HOW_TO_FIX.format(cache=keras_cache_path())


def array_sha256(array: np.ndarray) -> str:
    """SHA-256 of an array's raw bytes in C order."""
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def verify_arrays(arrays: dict[str, np.ndarray], source: str) -> None:
    """Raise `MnistDataError` unless ``arrays`` are exactly the MNIST arrays."""
    for name, spec in EXPECTED_ARRAYS.items():
        if name not in arrays:
            raise MnistDataError(
                f"{source} has no array named {name!r} (it has {sorted(arrays)}); expected the "
                f"four arrays x_train, y_train, x_test, y_test. {_fix_hint()}"
            )
        array = arrays[name]
        if array.shape != spec.shape or array.dtype != np.dtype(spec.dtype):
            raise MnistDataError(
                f"{source}: array {name!r} has shape {array.shape} and dtype {array.dtype}; "
                f"expected shape {spec.shape} and dtype {spec.dtype}. The file is not the "
                f"standard MNIST file. {_fix_hint()}"
            )
        digest = array_sha256(array)
        if digest != spec.sha256:
            raise MnistDataError(
                f"{source}: array {name!r} has the right shape but different contents "
                f"(SHA-256 {digest[:12]}..., expected {spec.sha256[:12]}...). The data was "
                f"modified or is another data set. {_fix_hint()}"
            )


def read_mnist_file(path: str | os.PathLike) -> MnistArrays:
    """Read and verify an ``mnist.npz`` file."""
    path = Path(path).expanduser()
    if not path.exists():
        raise MnistDataError(f"No MNIST file at {path}: the file does not exist. {_fix_hint()}")
    if not path.is_file():
        raise MnistDataError(f"{path} is a directory, not an mnist.npz file. {_fix_hint()}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        raise MnistDataError(
            f"Could not read {path} as an .npz file ({type(error).__name__}: {error}). "
            f"It may be truncated (an interrupted download or copy) or not an .npz file at "
            f"all. {_fix_hint()}"
        ) from error
    verify_arrays(arrays, source=str(path))
    logger.debug("Loaded verified MNIST from %s", path)
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def _download_through_keras() -> MnistArrays:
    try:
        import keras
    except ImportError as error:  # pragma: no cover - keras is a dependency
        raise MnistDataError(
            f"MNIST was not found locally and Keras is not installed to download it. {_fix_hint()}"
        ) from error
    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as error:
        raise MnistDataError(
            f"MNIST was not found locally (no path given, {ENV_VAR} not set, no file at "
            f"{keras_cache_path()}), and downloading it through Keras failed "
            f"({type(error).__name__}: {error}). Without network access the data must be "
            f"supplied as a file. {_fix_hint()}"
        ) from error
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    verify_arrays(arrays, source="the MNIST download through Keras")
    return (x_train, y_train), (x_test, y_test)


def locate_mnist(path: str | os.PathLike | None = None) -> Path | None:
    """The local file `load_mnist` would read, or None when it would download.

    An explicit path or ``MNIST_PATH`` is returned even if it does not exist, so that a
    typo gives a clear error rather than a silent download.
    """
    if path is not None:
        return Path(path).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    cache = keras_cache_path()
    return cache if cache.exists() else None


def load_mnist(path: str | os.PathLike | None = None) -> MnistArrays:
    """Return ``((x_train, y_train), (x_test, y_test))``, verified, as Keras does.

    Looks at ``path``, then ``$MNIST_PATH``, then the Keras cache file, then downloads
    through Keras. Raises `MnistDataError` with a fix when nothing works.
    """
    local = locate_mnist(path)
    if local is not None:
        if path is None and os.environ.get(ENV_VAR) and not local.exists():
            raise MnistDataError(
                f"The environment variable {ENV_VAR} is set to {local}, but there is no file "
                f"there. Fix the path, or unset {ENV_VAR} to use {keras_cache_path()}."
            )
        return read_mnist_file(local)
    return _download_through_keras()
