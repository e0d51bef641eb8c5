"""Grading outside the instructor's machine: a Gradescope autograder and a GitHub Actions workflow.

- `gradescope`: ``mnist-lab gradescope-zip``, the self-contained autograder zip (scripts,
  the kit's wheel from `wheel`, rubric, scans, MNIST);
- `autograder`: what the zip's ``run_autograder`` runs for each submission on Gradescope:
  find the notebook, grade it, always leave a results.json the student can read;
- `github`: ``mnist-lab github-workflow``, the workflow that grades a student's repository;
- `cli`: the two commands. The shipped scripts and workflow are in ``templates/``.
"""

from __future__ import annotations

from importlib import resources


def template(name: str) -> bytes:
    """The bytes of ``templates/NAME`` (``setup.sh``, ``run_autograder``, ``grade.yml``)."""
    return (resources.files(__name__) / "templates" / name).read_bytes()
