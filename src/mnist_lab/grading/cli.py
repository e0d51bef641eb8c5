"""``mnist-lab grade`` and ``grade-batch``: the command line over `grade_submission` and
`grade_batch`.

Exit status: 0 when the submission (or the batch) was graded, whatever the scores; 2 when
the grader could not grade (a bad rubric, no MNIST, the checker failing), with a message
saying why; ``grade-batch`` exits 130 when interrupted, keeping what finished.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

from mnist_lab.classroom.cli import add_similarity_option
from mnist_lab.grading.rubric import DEFAULT_RUBRIC

DEFAULT_GRADE_DIR = Path("build") / "grade"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C
# Per-notebook progress lines: with several notebooks at once they would only interleave.
CHATTY_IN_A_BATCH = ("mnist_lab.grading.grade", "mnist_lab.notebook.execute")


def _grade(args: argparse.Namespace) -> int:
    from mnist_lab.grading.grade import grade_submission

    results = grade_submission(
        args.submission, out_dir=args.out, rubric=args.rubric, report_dir=args.report
    )
    print(results.summary_line())
    for check in results.checks:
        mark = "passed" if check.passed else "FAILED"
        print(f"  {mark:6}  {check.points:g}/{check.max_points:g}  {check.name}")
    print(f"Feedback: {args.out / 'feedback.html'}; for Gradescope: {args.out / 'results.json'}")
    if args.report is not None:
        if (args.report / "summary.json").is_file():
            print(f"Lab report: {args.report / 'report.html'}")
        else:
            print("No lab report: the notebook left no trained `model` and `history`.")
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
    grade.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help=(
            "also write the student's lab report there (as `mnist-lab run` does), from the "
            "same run: the notebook is executed once"
        ),
    )
    grade.set_defaults(handler=_grade)


@contextlib.contextmanager
def _quiet(names: tuple[str, ...]) -> Iterator[None]:
    """Only warnings and errors from these loggers, for the duration."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _grade_batch(args: argparse.Namespace) -> int:
    from mnist_lab.grading.batch import grade_batch

    try:
        with _quiet(CHATTY_IN_A_BATCH):
            summary = grade_batch(
                args.submissions,
                args.out,
                workers=args.workers,
                rubric=args.rubric,
                assignment=args.assignment,
                force=args.force,
                progress=not args.quiet,
                similarity_threshold=args.similarity_threshold,
            )
    except KeyboardInterrupt:
        print(
            "mnist-lab grade-batch: interrupted; run the same command again to resume "
            f"(finished results are kept in {args.out}).",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    print(
        f"{len(summary.records)} students: {len(summary.graded)} graded now, "
        f"{len(summary.reused)} reused from before, {len(summary.errors)} with errors."
    )
    for record in summary.errors:
        print(f"  {record.student}: {record.status}: {record.message}")
    print(f"Grades: {summary.grades_csv}; each student's feedback: {args.out}/<student>/")
    print(f"The class at a glance: {args.out / 'class_report.html'}")
    return 0


def add_grade_batch_command(subparsers) -> None:
    """Add ``grade-batch`` to the ``mnist-lab`` subcommands."""
    batch = subparsers.add_parser(
        "grade-batch",
        help="grade a folder of submissions, several at a time, resumably",
        description=(
            "Grade every student's notebook in SUBMISSIONS_DIR: a folder of <student>.ipynb, "
            "a folder of <student>/<notebook>.ipynb, or nbgrader's submitted/<student>/"
            "<assignment>/ (give the course folder or submitted/). Writes each student's "
            "results and feedback to DIR/<student>/ and DIR/grades.csv. Run it again after "
            "an interruption: unchanged submissions graded under the same rubric are reused. "
            "Exits 0 when the batch completed, whatever the scores."
        ),
    )
    batch.add_argument("submissions", type=Path, metavar="SUBMISSIONS_DIR")
    batch.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="where to write the results"
    )
    batch.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="notebooks graded at a time (default: one per CPU core, as memory allows)",
    )
    batch.add_argument(
        "--rubric",
        type=Path,
        default=DEFAULT_RUBRIC,
        metavar="PATH",
        help="the rubric: points, thresholds, time limits (default: autograder/rubric.toml)",
    )
    batch.add_argument(
        "--assignment",
        metavar="NAME",
        help="with nbgrader's layout, grade only submitted/<student>/NAME/",
    )
    batch.add_argument(
        "--force",
        action="store_true",
        help="grade every submission again, even those a previous run finished",
    )
    add_similarity_option(batch)
    batch.set_defaults(handler=_grade_batch)
