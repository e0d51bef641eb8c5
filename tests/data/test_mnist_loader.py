"""The offline MNIST loader: sources in order, verification, and clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from mnist_lab import data
from mnist_lab.data import MnistDataError, load_mnist


@pytest.fixture(scope="module")
def mnist_arrays(mnist_path):
    with np.load(mnist_path) as npz:
        return {name: npz[name] for name in npz.files}


@pytest.fixture
def no_sources(monkeypatch, tmp_path):
    """No MNIST_PATH, an empty Keras home, and a Keras download that fails like no network."""
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))

    def offline_download():
        raise OSError("URL fetch failure: [Errno -3] Temporary failure in name resolution")

    import keras

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline_download)


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    np.savez(path, **arrays)
    return path


def test_returns_what_keras_returns(mnist_path):
    (x_train, y_train), (x_test, y_test) = load_mnist(mnist_path)
    assert (x_train.shape, y_train.shape) == ((60000, 28, 28), (60000,))
    assert (x_test.shape, y_test.shape) == ((10000, 28, 28), (10000,))
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype("uint8")}
    assert (int(x_train.min()), int(x_train.max())) == (0, 255)
    assert sorted(np.unique(y_test)) == list(range(10))


def test_explicit_path_wins_over_environment(mnist_path, monkeypatch, tmp_path):
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "missing.npz"))
    (x_train, _), _ = load_mnist(mnist_path)
    assert x_train.shape == (60000, 28, 28)


def test_environment_variable_is_used(mnist_path, monkeypatch, no_sources):
    monkeypatch.setenv(data.ENV_VAR, str(mnist_path))
    assert load_mnist()[1][0].shape == (10000, 28, 28)


def test_keras_cache_is_used(mnist_path, no_sources):
    cache = data.keras_cache_path()
    cache.parent.mkdir(parents=True)
    shutil.copy(mnist_path, cache)
    assert load_mnist()[0][1].shape == (60000,)


def test_download_through_keras_is_the_last_resort(mnist_arrays, monkeypatch, no_sources):
    import keras

    calls = []

    def fake_download():
        calls.append(1)
        return (mnist_arrays["x_train"], mnist_arrays["y_train"]), (
            mnist_arrays["x_test"],
            mnist_arrays["y_test"],
        )

    monkeypatch.setattr(keras.datasets.mnist, "load_data", fake_download)
    (x_train, _), _ = load_mnist()
    assert calls == [1]
    assert x_train.shape == (60000, 28, 28)


def test_no_network_and_no_file_says_how_to_fix(no_sources):
    with pytest.raises(MnistDataError) as error:
        load_mnist()
    message = str(error.value)
    assert "downloading it through Keras failed" in message
    assert "Temporary failure in name resolution" in message
    assert "MNIST_PATH" in message


@pytest.mark.parametrize(
    ("make_file", "expected"),
    [
        pytest.param(lambda p: p, "does not exist", id="missing"),
        pytest.param(lambda p: (p.mkdir(), p)[1], "is a directory", id="directory"),
        pytest.param(lambda p: (p.write_text("hello"), p)[1], "Could not read", id="not_npz"),
    ],
)
def test_bad_files_are_explained(tmp_path, make_file, expected):
    path = make_file(tmp_path / "mnist.npz")
    with pytest.raises(MnistDataError, match=expected) as error:
        load_mnist(path)
    assert "MNIST_PATH" in str(error.value)


def test_truncated_file_is_explained(mnist_path, tmp_path):
    truncated = tmp_path / "mnist.npz"
    truncated.write_bytes(mnist_path.read_bytes()[:5_000_000])
    with pytest.raises(MnistDataError, match="truncated"):
        load_mnist(truncated)


def test_missing_environment_file_is_not_silently_replaced(monkeypatch, tmp_path):
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "typo.npz"))
    with pytest.raises(MnistDataError, match="MNIST_PATH is set to"):
        load_mnist()


def modified(arrays, name, change):
    changed = dict(arrays)
    changed[name] = change(arrays[name].copy())
    return changed


def flip_one_pixel(array):
    array[0, 14, 14] ^= 1
    return array


@pytest.mark.parametrize(
    ("name", "change", "expected"),
    [
        pytest.param("x_test", flip_one_pixel, "different contents", id="one_pixel_changed"),
        pytest.param("y_train", lambda a: a[:-1], "shape", id="label_dropped"),
        pytest.param("x_train", lambda a: a.astype("float32"), "dtype float32", id="float_pixels"),
    ],
)
def test_different_data_is_rejected(mnist_arrays, tmp_path, name, change, expected):
    path = save_npz(tmp_path / "mnist.npz", modified(mnist_arrays, name, change))
    with pytest.raises(MnistDataError, match=expected) as error:
        load_mnist(path)
    assert name in str(error.value)


def test_missing_array_is_named(mnist_arrays, tmp_path):
    arrays = {k: v for k, v in mnist_arrays.items() if k != "y_test"}
    with pytest.raises(MnistDataError, match="no array named 'y_test'"):
        load_mnist(save_npz(tmp_path / "mnist.npz", arrays))
