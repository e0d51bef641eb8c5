"""``mnist-lab github-workflow``: a GitHub Actions workflow that grades a student's repository.

The instructor writes it once, with the kit's version pinned, and copies it into the
students' repositories (a GitHub Classroom template, say) as ``.github/workflows/grade.yml``.
On every push it installs the kit, fetches MNIST once (cached; the grader verifies its
SHA-256), runs ``mnist-lab grade`` on the lab notebook, shows the score in the run's summary
and as a notice, and keeps the result files as an artifact. A low score does not fail the
run; a grader that could not grade does.

``kit`` is what pip installs the kit from, not in editable mode: a release from the package
index, pinned (``mnist-cnn-lab==0.1.0``), or the kit's repository at a tag
(``git+https://...@v0.1.0``). Either way the installed kit carries its rubric and scans as
package data (see `mnist_lab.paths`), so ``mnist-lab grade`` needs no checkout of the kit.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from mnist_lab.deploy import template
from mnist_lab.errors import LabError

DEFAULT_WORKFLOW = Path(".github") / "workflows" / "grade.yml"
WORKFLOW_TEMPLATE = "grade.yml"
KIT_PLACEHOLDER = "@MNIST_LAB_KIT@"
PROJECT_NAME = "mnist-cnn-lab"
VCS_SCHEMES = ("git+", "hg+", "svn+", "bzr+")
KIT_EXAMPLE = "git+https://github.com/ORG/mnist-cnn-lab@v0.1.0"
INDEX_EXAMPLE = f"{PROJECT_NAME}==0.1.0"
# The kit's name as pip compares names (-, _ and . alike, any case), then a pinned version.
PINNED_RELEASE = re.compile(r"mnist[-_.]+cnn[-_.]+lab\s*==\s*([0-9][0-9A-Za-z.+!-]*)", re.I)


def kit_requirement(kit: str) -> str:
    """The pip requirement the workflow installs, from what ``--kit`` gave.

    ``mnist-cnn-lab==VERSION`` (an index release, pinned) is kept as that; a repository URL
    as pip writes it, with or without ``mnist-cnn-lab @``, becomes ``mnist-cnn-lab @ URL``.
    Raises `LabError` for anything else, saying what to give instead.
    """
    text = kit.strip()
    if not text:
        raise LabError(
            "--kit is empty: the workflow needs to know where to install the grading kit "
            f"from. Give a release, e.g. --kit {INDEX_EXAMPLE}, or the kit's repository and "
            f"a tag, e.g. --kit {KIT_EXAMPLE}"
        )
    release = PINNED_RELEASE.fullmatch(text)
    if release:
        return f"{PROJECT_NAME}=={release.group(1)}"
    name, at, url = text.rpartition(" @ ")
    url = url.strip()
    if not url.startswith(VCS_SCHEMES) or any(char.isspace() for char in url):
        raise LabError(
            f"--kit {text!r} is neither a pinned release of the kit nor a repository URL as "
            f"pip writes one. Give a release from the package index with its version, e.g. "
            f"--kit {INDEX_EXAMPLE} (pinned, so that every push is graded by the same kit), "
            f"or the kit's repository and a tag, e.g. --kit {KIT_EXAMPLE}"
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
