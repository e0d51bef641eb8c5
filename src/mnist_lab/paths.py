"""Where the kit's files are: the project folders and the supplied scanned digits."""

from __future__ import annotations

import os
from pathlib import Path

from mnist_lab.errors import LabError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SOLUTION_NOTEBOOK = PROJECT_ROOT / "solution" / "mnist_cnn_lab.ipynb"
DEFAULT_REPORT_DIR = Path("build") / "report"
SAMPLES_ENV_VAR = "MNIST_LAB_SAMPLES"


def sample_images_dir(*, must_exist: bool = True) -> Path:
    """The folder of supplied scanned digits: ``$MNIST_LAB_SAMPLES``, else ``sample_images/``."""
    directory = Path(os.environ.get(SAMPLES_ENV_VAR) or PROJECT_ROOT / "sample_images")
    if must_exist and not (directory / "labels.csv").is_file():
        raise LabError(
            f"No scanned digits at {directory} (expected a folder with images and labels.csv). "
            f"Set {SAMPLES_ENV_VAR} to a folder of scans with a labels.csv manifest."
        )
    return directory
