"""``mnist-lab make-assignment`` and ``mnist-lab nbgrader-course``: thin commands over the library.

Exit status: 0 on success; 1 when ``make-assignment --check`` finds the template or the
points out of date; 2 for bad input (the message says how to fix it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mnist_lab.assignment import ASSIGNMENT_ID, DEFAULT_COURSE_ID, TEMPLATE_NOTEBOOK
from mnist_lab.grading.rubric import DEFAULT_RUBRIC
from mnist_lab.paths import SOLUTION_NOTEBOOK

EXIT_OUT_OF_DATE = 1


def _make_assignment(args: argparse.Namespace) -> int:
    from mnist_lab.assignment.make import make_assignment

    update = make_assignment(
        solution=args.solution,
        template=args.out,
        rubric=args.rubric,
        check=args.check,
        kit_source=args.kit_source,
    )
    if args.check and not update.up_to_date:
        for line in update.points:
            print(f"points out of date: {line}")
        if update.template_changed:
            print(f"{args.out} differs from what {args.solution} generates.")
        print("Run `mnist-lab make-assignment` to update them.")
        return EXIT_OUT_OF_DATE
    print(f"Template: {args.out} ({'updated' if update.template_changed else 'up to date'})")
    return 0


def _nbgrader_course(args: argparse.Namespace) -> int:
    from mnist_lab.assignment.course import STUDENT_CONFIG_NAME, make_course

    source = make_course(
        args.directory,
        course_id=args.course_id,
        exchange=args.exchange,
        rubric=args.rubric,
        kit_source=args.kit_source,
    )
    exchange = (args.exchange or args.directory / "exchange").resolve()
    print(f"Course directory: {args.directory} (source: {source})")
    print(f"Next, in that folder: nbgrader generate_assignment {ASSIGNMENT_ID}")
    print(
        f"Students fetch and submit through the exchange {exchange}, which must be writable by "
        f"every student. Give students' nbgrader the course's settings: copy "
        f"{args.directory / STUDENT_CONFIG_NAME} to /etc/jupyter/nbgrader_config.py on the "
        f"course's JupyterHub (or to each student's ~/.jupyter/nbgrader_config.py); without it "
        f"each student adds --course {args.course_id}"
        + ("" if str(exchange) == DEFAULT_EXCHANGE else f" --Exchange.root={exchange}")
        + " to fetch_assignment, submit and fetch_feedback, and Validate stops at nbgrader's "
        "30 s cell time limit while the model trains."
    )
    return 0


# Where students' nbgrader looks for the exchange when nothing configures it.
DEFAULT_EXCHANGE = "/usr/local/share/nbgrader/exchange"


KIT_SOURCE_HELP = (
    "what the template's first cell installs the kit from where it is missing (Colab, a bare "
    "Python): a pip requirement or the address of a wheel, such as the students' wheel of "
    "`mnist-lab student-wheel` on a course web page (default: mnist-cnn-lab==VERSION, this "
    "kit's release)"
)


def add_assignment_commands(subparsers) -> None:
    """Add ``make-assignment`` and ``nbgrader-course`` to the ``mnist-lab`` subcommands."""
    make = subparsers.add_parser(
        "make-assignment",
        help="regenerate the student template from the solution",
        description=(
            "Set the points of the solution's test cells from autograder/rubric.toml, then "
            "generate the student template from the solution with nbgrader's "
            "generate_assignment steps."
        ),
    )
    make.add_argument(
        "--solution",
        type=Path,
        default=SOLUTION_NOTEBOOK,
        metavar="PATH",
        help="the solution notebook (default: solution/mnist_cnn_lab.ipynb)",
    )
    make.add_argument(
        "--out",
        type=Path,
        default=TEMPLATE_NOTEBOOK,
        metavar="PATH",
        help="where to write the template (default: assignment/mnist_cnn_lab.ipynb)",
    )
    make.add_argument(
        "--rubric",
        type=Path,
        default=DEFAULT_RUBRIC,
        metavar="PATH",
        help=(
            "the rubric (default: autograder/rubric.toml); its check_files get a test cell "
            "each in the template"
        ),
    )
    make.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 1 if the template or the points are out of date",
    )
    make.add_argument("--kit-source", metavar="SPEC", help=KIT_SOURCE_HELP)
    make.set_defaults(handler=_make_assignment)

    course = subparsers.add_parser(
        "nbgrader-course",
        help="lay out an nbgrader course directory for the lab",
        description=(
            "Create DIR/source/mnist_cnn_lab/ from the solution and DIR/nbgrader_config.py "
            "with the kit's nbgrader settings; then run nbgrader's commands in DIR."
        ),
    )
    course.add_argument("directory", type=Path, metavar="DIR")
    course.add_argument(
        "--course-id",
        default=DEFAULT_COURSE_ID,
        metavar="ID",
        help=f"nbgrader's course id (default: {DEFAULT_COURSE_ID})",
    )
    course.add_argument(
        "--exchange",
        type=Path,
        metavar="DIR",
        help="nbgrader's exchange folder (default: DIR/exchange; on a shared JupyterHub, "
        f"usually {DEFAULT_EXCHANGE}, where students' nbgrader looks by default)",
    )
    course.add_argument(
        "--rubric",
        type=Path,
        metavar="PATH",
        help="a rubric of your own (default: the kit's); nbgrader then grades with its points "
        "and adds a test cell for each check of its check_files",
    )
    course.add_argument("--kit-source", metavar="SPEC", help=KIT_SOURCE_HELP)
    course.set_defaults(handler=_nbgrader_course)
