"""The autograder: grade a lab notebook against the rubric, in isolation.

Folders by the process their code runs in, so that a reader sees at once which code a
student's notebook can reach:

- here, the grader's own process: `grade` (`grade_submission`: runs everything below and
  writes the result files), `batch` (``mnist-lab grade-batch``), `cli` (``mnist-lab grade``),
  `feedback` (the student's feedback), `report` (the lab report of a graded run),
  `kernel_user` (a user of its own for each kernel), `protocol` (the signed messages between
  the grader and the checker);
- also here, what every process shares: `rubric` (points, thresholds, limits), `catalogue`
  (the checks, read from their files without running them), `scoring` (a check's outcome
  to its points), `results` (Gradescope JSON, JUnit XML), `sources` (a notebook's code, read
  without running it);
- `sandbox`: its own process, the wrapper around the student's kernel (limits, no network,
  nothing outlives the run);
- `checker/`: the checker process, which imports the checks, loads what the notebook
  exported and computes every score;
- `kernel/`: the only code that runs in the student's kernel: the export cell and the
  in-notebook (nbgrader) checks.

Imports here are lazy: the kernel-side code and the `sandbox` must start fast.
"""

from __future__ import annotations

__all__ = [
    "CheckResult",
    "GradingError",
    "GradingResults",
    "Rubric",
    "RubricError",
    "grade_submission",
    "load_rubric",
]

_HOMES = {
    "CheckResult": "results",
    "GradingResults": "results",
    "GradingError": "grade",
    "grade_submission": "grade",
    "Rubric": "rubric",
    "RubricError": "rubric",
    "load_rubric": "rubric",
}


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'mnist_lab.grading' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"mnist_lab.grading.{_HOMES[name]}"), name)
