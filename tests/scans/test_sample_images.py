"""The committed sample_images/: labelled, varied, small, preprocessable and reproducible."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from mnist_lab.scans import read_manifest, to_mnist, validate_directory

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DIR = PROJECT_ROOT / "sample_images"
GENERATOR = PROJECT_ROOT / "scripts" / "make_sample_images.py"
MIN_PER_DIGIT = 3
MAX_TOTAL_BYTES = 1_000_000


@pytest.fixture(scope="module")
def samples():
    return read_manifest(SAMPLE_DIR)


def test_folder_matches_its_manifest():
    assert validate_directory(SAMPLE_DIR) == []


def test_every_digit_has_enough_samples(samples):
    counts = Counter(sample.label for sample in samples)
    assert sorted(counts) == list(range(10))
    assert min(counts.values()) >= MIN_PER_DIGIT, counts


def test_samples_are_small_and_varied(samples):
    total = sum(sample.path.stat().st_size for sample in samples)
    assert total < MAX_TOTAL_BYTES
    assert {sample.path.suffix for sample in samples} == {".png", ".jpg"}
    sizes = [Image.open(sample.path).size for sample in samples]
    assert min(min(size) for size in sizes) <= 100 and max(max(size) for size in sizes) >= 500
    assert any(width != height for width, height in sizes)


@pytest.mark.parametrize("digit", range(10))
def test_samples_preprocess_to_centred_views(digit, samples):
    for sample in (sample for sample in samples if sample.label == digit):
        view = to_mnist(sample.path)
        row, col = ndimage.center_of_mass(view)
        assert abs(row - 14) <= 1 and abs(col - 14) <= 1, sample.path.name
        rows, cols = np.nonzero(view > 0.05)
        assert max(np.ptp(rows), np.ptp(cols)) + 1 <= 21, sample.path.name


def test_generator_reproduces_the_committed_files(tmp_path):
    subprocess.run(
        [sys.executable, str(GENERATOR), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    generated = sorted(path.name for path in tmp_path.iterdir())
    committed = sorted(path.name for path in SAMPLE_DIR.iterdir() if path.name != "README.md")
    assert generated == committed
    assert (tmp_path / "labels.csv").read_text() == (SAMPLE_DIR / "labels.csv").read_text()
    # Pixels, not bytes: another Pillow or libjpeg encodes the same picture a little differently.
    for name in generated:
        if name.endswith(".csv"):
            continue
        with Image.open(tmp_path / name) as fresh, Image.open(SAMPLE_DIR / name) as kept:
            assert fresh.size == kept.size, name
            fresh_pixels = np.asarray(fresh.convert("L"), dtype=float)
            kept_pixels = np.asarray(kept.convert("L"), dtype=float)
        assert np.abs(fresh_pixels - kept_pixels).mean() < 2.0, name
