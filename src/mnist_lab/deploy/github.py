"""``mnist-lab github-workflow``: a GitHub Actions workflow that grades a student's repository.

The instructor writes it once, with the kit's version pinned, and copies it into the
students' repositories (a GitHub Classroom template, say) as ``.github/workflows/grade.yml``.
On every push it installs the kit, fetches MNIST once (cached; the grader verifies its
SHA-256), runs ``mnist-lab grade`` on the lab notebook, shows the score in the run's summary
and as a notice, and keeps the result files as an artifact. A low score does not fail the
run; a grader that could not grade does.

The kit is installed from its repository, in editable mode: the grader reads the rubric
(``autograder/rubric.toml``) and the scans (``sample_images/``) from the kit's folder, and a
wheel does not carry them. Hence ``kit`` must name a repository (``git+https://...@TAG``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mnist_lab.deploy import template
from mnist_lab.errors import LabError

DEFAULT_WORKFLOW = Path(".github") / "workflows" / "grade.yml"
WORKFLOW_TEMPLATE = "grade.yml"
KIT_PLACEHOLDER = "@MNIST_LAB_KIT@"
PROJECT_NAME = "mnist-cnn-lab"
VCS_SCHEMES = ("git+", "hg+", "svn+", "bzr+")
KIT_EXAMPLE = "git+https://github.com/ORG/mnist-cnn-lab@v0.1.0"


def kit_requirement(kit: str) -> str:
    """The pip requirement the workflow installs: ``mnist-cnn-lab @ <repository URL>``.

    Accepts a repository URL as pip writes it, with or without ``mnist-cnn-lab @``; raises
    `LabError` for anything else, saying what to give instead.
    """
    text = kit.strip()
    if not text:
        raise LabError(
            "--kit is empty: the workflow needs to know where to install the grading kit "
            f"from. Give its repository and a tag, e.g. --kit {KIT_EXAMPLE}"
        )
    name, at, url = text.rpartition(" @ ")
    url = url.strip()
    if not url.startswith(VCS_SCHEMES) or any(char.isspace() for char in url):
        raise LabError(
            f"--kit {text!r} is not a repository URL as pip writes one (git+https://...). "
            "The workflow installs the kit from its repository because the grader reads the "
            "rubric and the scans from the kit's folder, which a wheel or an index package "
            f"does not carry. Give the kit's repository and a tag, e.g. --kit {KIT_EXAMPLE}"
        )
    return f"{name.strip() if at else PROJECT_NAME} @ {url}"


def render_workflow(kit: str) -> str:
    """The workflow's YAML, installing the kit from ``kit`` (see `kit_requirement`)."""
    text = template(WORKFLOW_TEMPLATE).decode("utf-8")
    # A JSON string is a valid double-quoted YAML scalar: the requirement is kept as given.
    return text.replace(KIT_PLACEHOLDER, json.dumps(kit_requirement(kit)))


def write_github_workflow(*, kit: str, out: str | os.PathLike = DEFAULT_WORKFLOW) -> Path:
    """Write the grading workflow to ``out`` (whole, then moved into place); return ``out``."""
    out = Path(out)
    text = render_workflow(kit)
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = out.parent / f".{out.name}.{os.getpid()}.partial"
    staged.write_text(text, encoding="utf-8")
    os.replace(staged, out)
    return out
