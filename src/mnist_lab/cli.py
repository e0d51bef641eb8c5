"""The `mnist-lab` command: a thin layer over the library.

Exit status: 0 on success, 2 when the input is bad (the message says how to fix it),
1 on an unexpected internal error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from mnist_lab.startup import skip_slow_optional_imports

skip_slow_optional_imports()  # before the imports below bring in nbformat

from mnist_lab import __version__  # noqa: E402
from mnist_lab.assignment.cli import add_assignment_commands  # noqa: E402
from mnist_lab.classroom.cli import add_class_report_command, add_export_grades_command  # noqa: E402
from mnist_lab.data import ENV_VAR as MNIST_ENV_VAR  # noqa: E402
from mnist_lab.data import MnistDataError  # noqa: E402
from mnist_lab.deploy.cli import add_deploy_commands  # noqa: E402
from mnist_lab.errors import LabError  # noqa: E402
from mnist_lab.grading.cli import add_grade_batch_command, add_grade_command  # noqa: E402
from mnist_lab.notebook.execute import DEFAULT_CELL_TIMEOUT_S  # noqa: E402
from mnist_lab.paths import DEFAULT_REPORT_DIR, SOLUTION_NOTEBOOK  # noqa: E402
from mnist_lab.scans.cli import add_scan_commands  # noqa: E402

logger = logging.getLogger("mnist_lab")

EXIT_BAD_INPUT = 2


def _run(args: argparse.Namespace) -> int:
    from mnist_lab.quiet import import_tensorflow_quietly
    from mnist_lab.run import run_lab

    import_tensorflow_quietly()

    summary = run_lab(args.notebook, out_dir=args.out, cell_timeout=args.cell_timeout)
    print(f"Report: {args.out / 'report.html'} (and report.pdf, report.md beside it)")
    print(
        f"Test accuracy {summary['test_accuracy']:.4f}, loss {summary['test_loss']:.4f}; "
        f"scanned digits {summary['scanned_digits']['correct']}/"
        f"{summary['scanned_digits']['total']} right"
    )
    if "improved_model" in summary:
        print(f"Improved model test accuracy {summary['improved_model']['test_accuracy']:.4f}")
    errors = summary.get("cell_errors", [])
    if errors:
        cells = "1 cell" if len(errors) == 1 else f"{len(errors)} cells"
        print(
            f"Not every cell ran: {cells} stopped with an error, marked in the report: "
            + "; ".join(error["where"] for error in errors)
            + f". Fix {'it' if len(errors) == 1 else 'them'} and run again before you hand the "
            "report in (a bonus you chose to skip may stay as it is).",
            file=sys.stderr,
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mnist-lab",
        description="Run, report on and grade the MNIST convolutional network lab.",
        epilog=(
            f"MNIST is read from --mnist, else ${MNIST_ENV_VAR}, else the Keras cache "
            f"(~/.keras/datasets/mnist.npz); a download through Keras is the last resort."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--mnist",
        type=Path,
        metavar="PATH",
        help=f"the mnist.npz file to use (sets ${MNIST_ENV_VAR} for the run)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the results")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run a lab notebook and write its lab report",
        description=(
            "Execute a lab notebook in a fresh Jupyter kernel and write the lab report: "
            "report.md, report.html, report.pdf, figures/, classification_report.csv, metrics.csv, "
            "model.keras (and improved_model.keras when the notebook has one), notebook.ipynb "
            "(the notebook as it ran) and summary.json. The run goes on past a cell that stops "
            "with an error, as Jupyter's Run All would not, and the report marks that cell; a "
            "report needs the trained lab model, `model`, and its `history`."
        ),
    )
    run.add_argument(
        "notebook",
        nargs="?",
        type=Path,
        default=SOLUTION_NOTEBOOK,
        help="the notebook to run (default: the reference solution)",
    )
    run.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_REPORT_DIR,
        metavar="DIR",
        help=f"where to write the report (default: {DEFAULT_REPORT_DIR})",
    )
    run.add_argument(
        "--cell-timeout",
        type=int,
        default=DEFAULT_CELL_TIMEOUT_S,
        metavar="SECONDS",
        help=f"the longest one cell may run (default: {DEFAULT_CELL_TIMEOUT_S})",
    )
    run.set_defaults(handler=_run)
    add_grade_command(commands)
    add_grade_batch_command(commands)
    add_class_report_command(commands)
    add_export_grades_command(commands)
    add_scan_commands(commands)
    add_assignment_commands(commands)
    add_deploy_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(message)s",
        stream=sys.stderr,
    )
    # "Executing notebook with kernel: ...", and fpdf2's font subsetting ("glyf pruned").
    for chatty in ("traitlets", "nbclient", "fontTools"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    given = os.environ.get(MNIST_ENV_VAR)
    if args.mnist is not None:
        os.environ[MNIST_ENV_VAR] = str(args.mnist.resolve())
    elif given:  # as the user meant it: from here, not from the kernel's folder
        os.environ[MNIST_ENV_VAR] = os.path.abspath(os.path.expanduser(given))
    try:
        return _handle(args)
    finally:  # as it was, for a caller in the same process
        if given is None:
            os.environ.pop(MNIST_ENV_VAR, None)
        else:
            os.environ[MNIST_ENV_VAR] = given


def _handle(args: argparse.Namespace) -> int:
    try:
        return args.handler(args)
    except (LabError, MnistDataError) as error:
        print(f"mnist-lab {args.command}: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"mnist-lab {args.command}: interrupted; nothing was written.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the output was piped to a program that stopped reading (head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
