"""``mnist-lab gradescope-zip``, ``github-workflow`` and ``student-wheel``: thin commands over
the library.

Exit status: 0 when the file was written; 2 for bad input (no local MNIST, invalid scans or
rubric, an empty --kit), with a message that says how to fix it.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from mnist_lab.deploy.github import DEFAULT_WORKFLOW, INDEX_EXAMPLE, KIT_EXAMPLE
from mnist_lab.deploy.gradescope import DEFAULT_ZIP
from mnist_lab.grading.rubric import DEFAULT_RUBRIC, load_rubric


def _size(count: int) -> str:
    """Bytes as people read them: 812 B, 4.1 kB, 11.5 MB."""
    for unit, scale in (("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"


def _gradescope_zip(args: argparse.Namespace) -> int:
    from mnist_lab.deploy.gradescope import build_gradescope_zip, longest_grading_s

    members = build_gradescope_zip(out=args.out, rubric=args.rubric, samples_dir=args.samples)
    entries: dict[str, list[int]] = {}
    for member in members:
        top, _, rest = member.name.partition("/")
        entries.setdefault(f"{top}/" if rest else top, []).append(member.size)
    width = max(len(name) for name in entries)
    print(f"Wrote {args.out} ({_size(args.out.stat().st_size)}), holding:")
    for name, sizes in entries.items():
        count = f"  ({len(sizes)} files)" if name.endswith("/") else ""
        print(f"  {name:<{width}}  {_size(sum(sizes)):>9}{count}")
    limits = load_rubric(args.rubric).limits
    minutes = math.ceil(longest_grading_s(limits) / 60)
    print(
        "Upload it on Gradescope (the assignment's Configure Autograder page, Zip file "
        "upload) and set the assignment's total to the rubric's maximum score. Give the "
        f"autograder a timeout above {minutes} minutes and more than "
        f"{limits.memory_limit_mb} MB of memory plus the grader's own (the rubric's limits "
        "for the student's notebook): past Gradescope's limits, the grader is stopped "
        "before it can write its results."
    )
    return 0


def _github_workflow(args: argparse.Namespace) -> int:
    from mnist_lab.deploy.github import write_github_workflow

    out = write_github_workflow(kit=args.kit, out=args.out)
    print(f"Wrote {out}. Copy it to .github/workflows/ in each student's repository.")
    return 0


def _student_wheel(args: argparse.Namespace) -> int:
    from mnist_lab.deploy.wheel import build_wheel

    if any(args.out.glob("mnist_cnn_lab-*.whl")):
        print(
            f"{args.out} already holds a wheel of the kit; give an empty folder with --out, so "
            "that the students' wheel cannot be mistaken for another."
        )
        return 2
    wheel = build_wheel(args.out, student=True)
    print(
        f"Wrote {wheel} ({_size(wheel.stat().st_size)}): the kit for students, without the "
        "reference solution or the hidden checks. Put it where your students' notebooks can "
        "download it (a course web page, a GitHub release) and give its address to "
        "`mnist-lab make-assignment --kit-source URL`, so that the template's first cell "
        "installs it on Colab or any Python without the kit."
    )
    return 0


def add_deploy_commands(subparsers) -> None:
    """Add ``gradescope-zip`` and ``github-workflow`` to the ``mnist-lab`` subcommands."""
    gradescope = subparsers.add_parser(
        "gradescope-zip",
        help="build the Gradescope autograder zip",
        description=(
            "Build the zip Gradescope's autograder is configured with: setup.sh and "
            "run_autograder, the kit as a wheel, the rubric, the scans and the local "
            "mnist.npz (found as `mnist-lab grade` finds it: --mnist, $MNIST_PATH, the "
            "Keras cache). Gradescope's grading then needs no download."
        ),
    )
    gradescope.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_ZIP,
        metavar="PATH",
        help=f"where to write the zip (default: {DEFAULT_ZIP})",
    )
    gradescope.add_argument(
        "--rubric",
        type=Path,
        default=DEFAULT_RUBRIC,
        metavar="PATH",
        help="the rubric to grade with (default: the kit's autograder/rubric.toml)",
    )
    gradescope.add_argument(
        "--samples",
        type=Path,
        metavar="DIR",
        help="the scanned digits, with labels.csv (default: $MNIST_LAB_SAMPLES, else the "
        "kit's sample_images/)",
    )
    gradescope.set_defaults(handler=_gradescope_zip)

    github = subparsers.add_parser(
        "github-workflow",
        help="write the GitHub Actions workflow that grades a student's repository",
        description=(
            "Write a GitHub Actions workflow to copy into students' repositories: on every "
            "push it installs the kit, grades the lab notebook with `mnist-lab grade`, shows "
            "the score in the run's summary and keeps the results as an artifact."
        ),
    )
    github.add_argument(
        "--kit",
        required=True,
        metavar="REQUIREMENT",
        help=(
            f"what pip installs the kit from: a pinned release (e.g. {INDEX_EXAMPLE}) or the "
            f"kit's repository with a tag (e.g. {KIT_EXAMPLE})"
        ),
    )
    github.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_WORKFLOW,
        metavar="PATH",
        help=f"where to write the workflow (default: {DEFAULT_WORKFLOW})",
    )
    github.set_defaults(handler=_github_workflow)

    student = subparsers.add_parser(
        "student-wheel",
        help="build the kit's wheel for students: no solution, no hidden checks",
        description=(
            "Build the wheel students install to work on the lab (Colab, a laptop, a course "
            "JupyterHub): the kit without the reference solution and without the code of "
            "the rubric's hidden checks. Grade with the full kit, never with this one."
        ),
    )
    student.add_argument(
        "--out",
        type=Path,
        default=Path("dist", "student"),
        metavar="DIR",
        help="the folder to write the wheel in (default: dist/student)",
    )
    student.set_defaults(handler=_student_wheel)
