"""Where the kit's files are: the rubric, the supplied scans, the solution and the template.

Each lives once, in the repository's own folders (``autograder/rubric.toml``,
``sample_images/``, ``solution/``, ``assignment/``). The package reaches them through
``mnist_lab/kit/``, which mirrors those folders with relative links to them, and every
default is found there, resolved. In a checkout (``pip install -e .``) the links lead to the
repository's files; a wheel (``pip install mnist-cnn-lab``, or from the repository's URL)
carries the linked files themselves as package data, so an installed kit finds them in
site-packages the same way, with no checkout and no environment variable.
"""

from __future__ import annotations

import os
from pathlib import Path

from mnist_lab.errors import LabError

KIT_DIR = Path(__file__).resolve().parent / "kit"


def kit_path(*parts: str) -> Path:
    """The kit's file ``kit/PARTS``, resolved: the repository's file in a checkout."""
    return KIT_DIR.joinpath(*parts).resolve()


# The checkout the package sits in, for what works on the sources (building the wheel); in an
# installed wheel it is not a checkout.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
SOLUTION_NOTEBOOK = kit_path("solution", "mnist_cnn_lab.ipynb")
SAMPLE_IMAGES = kit_path("sample_images")
DEFAULT_REPORT_DIR = Path("build") / "report"
SAMPLES_ENV_VAR = "MNIST_LAB_SAMPLES"


def sample_images_dir(*, must_exist: bool = True) -> Path:
    """The folder of supplied scanned digits: ``$MNIST_LAB_SAMPLES``, else the kit's scans."""
    directory = Path(os.environ.get(SAMPLES_ENV_VAR) or SAMPLE_IMAGES)
    if must_exist and not (directory / "labels.csv").is_file():
        raise LabError(
            f"No scanned digits at {directory} (expected a folder with images and labels.csv). "
            f"Set {SAMPLES_ENV_VAR} to a folder of scans with a labels.csv manifest."
        )
    return directory
