"""Benchmark: `mnist-lab grade-batch` against serial `nbgrader autograde`, same submissions.

In one run, on the same machine:

1. a real nbgrader course (``tests/assignment/nbgrader_course.py``): generate, release, and
   eight students fetch the assignment and submit a class-like mix: the full solution with
   the bonus, the solution without the bonus, four with one mistake each (unscaled test
   images, three epochs, an MLP instead of a CNN, a syntax error), one with an exception in
   an early cell, and the untouched template; then ``nbgrader collect``;
2. nbgrader: ``nbgrader autograde`` of all eight, one after the other (as nbgrader does);
3. kit: ``mnist-lab grade-batch`` of the same ``submitted/`` folder, with each worker count
   given (default: 2, the best for a 2-core machine).

It prints the wall time and submissions per hour of each, the speed-up (target: at least
1.3x nbgrader), and each student's score from both graders side by side.
Usage: ``MNIST_PATH=../shared/data/mnist.npz python benchmarks/bench_batch.py [--workers 1 2]``
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mnist_lab.assignment import ASSIGNMENT_ID  # noqa: E402
from tests.assignment.nbgrader_course import Course, cell_with, edit, run, solved  # noqa: E402

TARGET_SPEEDUP = 1.3
MLP = """\
input_shape = (28, 28, 1)
model = keras.Sequential(
    [
        keras.Input(shape=input_shape),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ]
)
model.summary()
"""


def no_bonus(released):
    return solved(released, skip=("improved_model",))


def unscaled_test_images(released):
    return edit(no_bonus(released), "scale_pixels", "x_test / 255.0", "x_test")


def three_epochs(released):
    return edit(no_bonus(released), "train_model", "epochs = 5", "epochs = 3")


def mlp_instead_of_cnn(released):
    notebook = no_bonus(released)
    cell_with(notebook, "build_model").source = MLP
    return notebook


def syntax_error(released):
    return edit(no_bonus(released), "build_model", "model = keras.Sequential(", "model = (((")


def exception_in_early_cell(released):
    notebook = no_bonus(released)
    cell_with(notebook, "scale_pixels").source = "raise ValueError('not done yet')"
    return notebook


def untouched(released):
    return released


STUDENTS = {
    "alice": solved,
    "bob": no_bonus,
    "carol": unscaled_test_images,
    "dave": three_epochs,
    "erin": mlp_instead_of_cnn,
    "frank": syntax_error,
    "grace": exception_in_early_cell,
    "heidi": untouched,
}


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    run(command, cwd=cwd)
    return time.perf_counter() - started


def scores(path: Path, student_key: str) -> dict[str, str]:
    """Each student's score as written, or the row's status where it has no score (a
    grade-batch row that could not be graded)."""
    with open(path, newline="") as file:
        return {
            row[student_key]: _as_number(row["score"]) or row.get("status", "no score")
            for row in csv.DictReader(file)
        }


def _as_number(text: str) -> str:
    try:
        return f"{float(text):.1f}"
    except ValueError:
        return ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[2])
    args = parser.parse_args()
    if "MNIST_PATH" not in os.environ:
        raise SystemExit("Set MNIST_PATH to a local mnist.npz (grading never downloads).")
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as scratch:
        scratch = Path(scratch)
        print(f"setting up a course with {len(STUDENTS)} submissions ...", flush=True)
        course = Course.create(scratch)
        for student, work in STUDENTS.items():
            course.hand_in(student, work)
        course.nbgrader("collect", ASSIGNMENT_ID)
        count = len(STUDENTS)

        print("nbgrader autograde (serial) ...", flush=True)
        nbgrader = timed(
            [sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT_ID], course.root
        )
        print(f"  {nbgrader:.1f} s, {count / nbgrader * 3600:.1f} submissions/hour", flush=True)
        course.nbgrader("export")
        table = {"nbgrader": scores(course.root / "grades.csv", "student_id")}

        kit = {}
        for workers in args.workers:
            out = scratch / f"batch-{workers}"
            print(f"mnist-lab grade-batch --workers {workers} ...", flush=True)
            command = [sys.executable, "-m", "mnist_lab", "-q", "grade-batch"]
            command += [
                str(course.root / "submitted"),
                "--out",
                str(out),
                "--workers",
                str(workers),
            ]
            kit[workers] = timed(command, ROOT)
            print(f"  {kit[workers]:.1f} s, {count / kit[workers] * 3600:.1f} submissions/hour")
            table[f"grade-batch x{workers}"] = scores(out / "grades.csv", "student")

    print("\nscores (nbgrader's include the bonus as extra credit, as the kit's do):")
    columns = list(table)
    print("student  " + "  ".join(f"{c:>16}" for c in columns))
    for student in STUDENTS:
        print(f"{student:8} " + "  ".join(f"{table[c].get(student, '-'):>16}" for c in columns))
    differ = sorted(
        student
        for student in STUDENTS
        if len({table[column].get(student, "-") for column in columns}) > 1
    )
    print(f"scores differ for: {', '.join(differ)}" if differ else "every score agrees")
    best = min(kit, key=kit.get)
    speedup = nbgrader / kit[best]
    verdict = "meets" if speedup >= TARGET_SPEEDUP else "MISSES"
    print(
        f"\nnbgrader autograde {nbgrader:.1f} s ({count / nbgrader * 3600:.1f}/h); "
        f"grade-batch --workers {best} {kit[best]:.1f} s ({count / kit[best] * 3600:.1f}/h); "
        f"speed-up {speedup:.2f}x ({verdict} target >= {TARGET_SPEEDUP}x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
