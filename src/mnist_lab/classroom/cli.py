"""``mnist-lab class-report`` and ``export-grades``: the command line over `classroom`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mnist_lab.classroom.gradebook import DEFAULT_ASSIGNMENT, FORMATS
from mnist_lab.classroom.similarity import DEFAULT_THRESHOLD
from mnist_lab.grading.rubric import DEFAULT_RUBRIC


def similarity_threshold(text: str) -> float:
    """argparse type: a fraction in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a share of code in (0, 1], e.g. {DEFAULT_THRESHOLD}"
        )
    return value


def _class_report(args: argparse.Namespace) -> int:
    from mnist_lab.classroom.report import REPORT_HTML, SIMILARITY_CSV, write_class_report

    matches = write_class_report(
        args.out_dir, rubric=args.rubric, threshold=args.similarity_threshold
    )
    print(f"Class report: {args.out_dir / REPORT_HTML}")
    print(f"{len(matches)} pair(s) of similar submissions: {args.out_dir / SIMILARITY_CSV}")
    for match in matches:
        print(f"  {match.first} and {match.second}: {match.score:.0%} alike")
    return 0


def add_similarity_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--similarity-threshold",
        type=similarity_threshold,
        default=DEFAULT_THRESHOLD,
        metavar="SHARE",
        help=(
            "list two submissions as similar when this share of the smaller one's own code "
            f"is in the other (default: {DEFAULT_THRESHOLD})"
        ),
    )


def add_class_report_command(subparsers) -> None:
    report = subparsers.add_parser(
        "class-report",
        help="the class at a glance, from a finished grade-batch folder",
        description=(
            "Write class_report.html (scores, each check's pass rate, measured accuracy, "
            "time per submission, submissions not graded or stopped at a limit, similar "
            "code side by side), class_summary.csv and similarity.csv into OUT_DIR, the "
            "--out folder of a finished `mnist-lab grade-batch` run."
        ),
    )
    report.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    report.add_argument(
        "--rubric",
        type=Path,
        default=DEFAULT_RUBRIC,
        metavar="PATH",
        help="the rubric the class was graded with (default: autograder/rubric.toml)",
    )
    add_similarity_option(report)
    report.set_defaults(handler=_class_report)


def _export_grades(args: argparse.Namespace) -> int:
    from mnist_lab.classroom.gradebook import export_grades

    done = export_grades(
        args.out_dir,
        fmt=args.format,
        roster=args.roster,
        output=args.output,
        assignment=args.assignment,
    )
    print(f"{len(done.exported)} student(s) written to {done.path} ({args.format}).")
    if done.no_submission:
        print(
            f"In the roster without a graded notebook (empty grade in the file): "
            f"{', '.join(done.no_submission)}",
            file=sys.stderr,
        )
    if done.no_score:
        print(
            f"The grader failed on these (empty grade; run grade-batch again to retry): "
            f"{', '.join(done.no_score)}",
            file=sys.stderr,
        )
    if done.not_in_roster:
        print(
            f"In the batch but not in the roster (left out of the file; add them to it): "
            f"{', '.join(done.not_in_roster)}",
            file=sys.stderr,
        )
    return 0


def add_export_grades_command(subparsers) -> None:
    export = subparsers.add_parser(
        "export-grades",
        help="grades of a graded class for Canvas, Moodle or a plain CSV",
        description=(
            "Write the grades of a finished `mnist-lab grade-batch` folder in a file "
            "Canvas's or Moodle's gradebook imports as it is. The roster (CSV: student,"
            "lms_id[,name,section]) maps the kit's student names to the LMS's ids."
        ),
    )
    export.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    export.add_argument("--format", required=True, choices=FORMATS)
    export.add_argument("--roster", required=True, type=Path, metavar="ROSTER_CSV")
    export.add_argument(
        "--output", type=Path, metavar="PATH", help="default: OUT_DIR/grades_<format>.csv"
    )
    export.add_argument(
        "--assignment",
        default=DEFAULT_ASSIGNMENT,
        metavar="NAME",
        help=f"the assignment's column name in the gradebook (default: {DEFAULT_ASSIGNMENT!r})",
    )
    export.set_defaults(handler=_export_grades)
