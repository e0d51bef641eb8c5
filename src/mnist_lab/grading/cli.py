"""``mnist-lab grade``: the command line over `grade_submission`.

Exit status: 0 when the submission was graded, whatever its score; 2 when the grader could
not grade (a bad rubric, no MNIST, the checker failing), with a message saying why.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mnist_lab.grading.rubric import DEFAULT_RUBRIC

DEFAULT_GRADE_DIR = Path("build") / "grade"


def _grade(args: argparse.Namespace) -> int:
    from mnist_lab.grading.grade import grade_submission

    results = grade_submission(args.submission, out_dir=args.out, rubric=args.rubric)
    print(results.summary_line())
    for check in results.checks:
        mark = "passed" if check.passed else "FAILED"
        print(f"  {mark:6}  {check.points:g}/{check.max_points:g}  {check.name}")
    print(f"Feedback: {args.out / 'feedback.html'}; for Gradescope: {args.out / 'results.json'}")
    return 0


def add_grade_command(subparsers) -> None:
    """Add ``grade`` to the ``mnist-lab`` subcommands."""
    grade = subparsers.add_parser(
        "grade",
        help="grade a submitted lab notebook",
        description=(
            "Run a submitted lab notebook in an isolated kernel, check it against the rubric "
            "in a separate process, and write results.json (Gradescope), junit.xml, "
            "feedback.md and feedback.html. Exits 0 whenever grading completed."
        ),
    )
    grade.add_argument("submission", type=Path, help="the student's notebook (.ipynb)")
    grade.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_GRADE_DIR,
        metavar="DIR",
        help=f"where to write the results (default: {DEFAULT_GRADE_DIR})",
    )
    grade.add_argument(
        "--rubric",
        type=Path,
        default=DEFAULT_RUBRIC,
        metavar="PATH",
        help="the rubric: points, thresholds, time limits (default: autograder/rubric.toml)",
    )
    grade.set_defaults(handler=_grade)
