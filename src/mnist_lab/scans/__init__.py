"""Scanned and photographed handwritten digits: MNIST-style preprocessing and labelled folders.

`to_mnist` turns a scan or photo of one digit into the 28x28 view MNIST models expect, and
`prepare_for_model` shapes it for ``model.predict``; `naive_preprocess` is the write-ups'
squeeze-the-whole-photo step, kept for comparison. `read_manifest` and `validate_directory`
read a folder of images labelled in ``labels.csv``.
"""

from mnist_lab.scans.manifest import (
    MANIFEST_NAME,
    ManifestError,
    Sample,
    read_manifest,
    validate_directory,
)
from mnist_lab.scans.preprocess import (
    BOX_SIZE,
    FRAME_SIZE,
    ScanError,
    load_image,
    naive_preprocess,
    prepare_for_model,
    to_mnist,
)

__all__ = [
    "BOX_SIZE",
    "FRAME_SIZE",
    "MANIFEST_NAME",
    "ManifestError",
    "Sample",
    "ScanError",
    "load_image",
    "naive_preprocess",
    "prepare_for_model",
    "read_manifest",
    "to_mnist",
    "validate_directory",
]
