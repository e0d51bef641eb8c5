"""The autograder: grade a lab notebook against the rubric, in isolation.

Modules, in the order a submission meets them:

- `rubric`: points, visibility, thresholds and time limits, from autograder/rubric.toml;
- `grade`: `grade_submission`, which runs everything below and writes the result files;
- `sandbox`: the wrapper around the student's kernel that ends what the notebook leaves;
- `export`: runs in the student's kernel and saves the lab's objects as plain data;
- `checker`: the separate process that loads those and computes every score;
- `artefacts`, `sources`, `models`: what the checks read (exports, code, Keras models);
- `checks`: the catalogue of checks; `runner`: runs them and applies the rubric's points;
- `results`, `feedback`: the results (Gradescope JSON, JUnit XML) and the student feedback;
- `protocol`: the signed messages between the grader and the checker; `cli`: ``mnist-lab grade``;
- `batch`: `grade_batch` (``mnist-lab grade-batch``), a class's notebooks, several at a time.

Imports here are lazy: the kernel-side `export` and the `sandbox` must start fast.
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
