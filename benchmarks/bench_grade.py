"""Benchmark: what `mnist-lab grade` adds over running the same notebook with plain nbclient.

In one run, on the same machine, one after the other:

1. baseline: the notebook executed by nbclient alone (``NotebookClient(...).execute()``) in
   a fresh Python process, in a scratch copy of its folder: the kernel and the notebook's
   own cells, nothing else;
2. grade: ``mnist-lab grade`` of the same notebook, which adds the sandbox around the
   kernel, the checker process (started while the notebook runs), the export of the lab's
   objects, every check and the four result files.

It prints both wall times and the overhead, grade / baseline - 1 (target: at most 6%;
nbgrader's autograde adds about 6% over plain execution, without isolation). Training the
solution's models varies by more than that from one run to the next on a shared machine
(the bonus model took 188 s in one run and 228 s in the next, graded or not), so it also
prints what each side spent outside the notebook's own cells (starting the kernel, the
checker, the export, the checks, the files), read from the cells' timings in each executed
notebook: that part is what grading adds, and the target is also checked on it.
Usage: ``MNIST_PATH=../shared/data/mnist.npz python benchmarks/bench_grade.py [NOTEBOOK]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import nbformat  # noqa: E402
from bench_run import timed  # noqa: E402

TARGET_OVERHEAD = 0.06
RESULTS = ROOT / "benchmarks" / "results" / "bench_grade.json"
# Run in its own process so that both sides pay for one Python start-up.
PLAIN_NBCLIENT = """\
import sys
import nbformat
from nbclient import NotebookClient

notebook = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(
    notebook, timeout=1800, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}
).execute()
nbformat.write(notebook, sys.argv[3])
"""
# `mnist-lab grade`, keeping the executed notebook for its cells' timings (a benchmark's
# look inside: the grader itself keeps nothing of the run).
GRADE = """\
import sys
import nbformat
import mnist_lab.grading.grade as grade

run = grade.execute_notebook
def keeping(*args, **kwargs):
    executed = run(*args, **kwargs)
    nbformat.write(executed.notebook, sys.argv[3])
    return executed
grade.execute_notebook = keeping
grade.grade_submission(sys.argv[1], out_dir=sys.argv[2])
"""


def cells_seconds(path: Path) -> float:
    """The seconds the notebook's own cells ran (the grader's export cell left out)."""
    from mnist_lab.grading.grade import _is_export
    from mnist_lab.notebook.inspect import cell_seconds

    notebook = nbformat.read(path, as_version=4)
    return sum(cell_seconds(cell) or 0.0 for cell in notebook.cells if not _is_export(cell))


def _verdict(overhead: float) -> str:
    return "meets" if overhead <= TARGET_OVERHEAD else "MISSES"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "notebook", nargs="?", type=Path, default=ROOT / "solution" / "mnist_cnn_lab.ipynb"
    )
    args = parser.parse_args()
    notebook = args.notebook.resolve()
    if "MNIST_PATH" not in os.environ:
        raise SystemExit("Set MNIST_PATH to a local mnist.npz (grading never downloads).")
    # Absolute: the baseline runs in a folder of its own, where a relative path would miss.
    mnist = str(Path(os.environ["MNIST_PATH"]).resolve())
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "MNIST_PATH": mnist}
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as scratch:
        scratch = Path(scratch)
        plain_dir = scratch / "plain"
        plain_dir.mkdir()
        copy = Path(shutil.copy(notebook, plain_dir / notebook.name))
        print(f"baseline: nbclient executes {notebook.name} ...", flush=True)
        executed = scratch / "plain.ipynb"
        command = [sys.executable, "-c", PLAIN_NBCLIENT, str(copy), str(plain_dir), str(executed)]
        baseline = timed(command, cwd=plain_dir, env=env)
        baseline_outside = baseline - cells_seconds(executed)
        print(f"  {baseline:.1f} s ({baseline_outside:.1f} s outside its cells)", flush=True)
        print("grade: mnist-lab grade (sandbox, checker, export, checks, results) ...", flush=True)
        out, executed = scratch / "grade", scratch / "graded.ipynb"
        command = [sys.executable, "-c", GRADE, str(notebook), str(out), str(executed)]
        graded = timed(command, cwd=ROOT, env=env)
        graded_outside = graded - cells_seconds(executed)
        print(f"  {graded:.1f} s ({graded_outside:.1f} s outside its cells)", flush=True)
        results = json.loads((out / "results.json").read_text())
    overhead = graded / baseline - 1
    added = (graded_outside - baseline_outside) / baseline
    print(
        f"\nbaseline {baseline:.1f} s, mnist-lab grade {graded:.1f} s, overhead {overhead:+.1%} "
        f"({_verdict(overhead)} target <= {TARGET_OVERHEAD:.0%}); outside the notebook's cells: "
        f"{baseline_outside:.1f} s and {graded_outside:.1f} s, grading adds {added:+.1%} of the "
        f"baseline ({_verdict(added)} target)"
    )
    print(f"score {results['score']:g}; grading's own execution_time {results['execution_time']} s")
    RESULTS.parent.mkdir(exist_ok=True)
    figures = {
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "notebook": notebook.name,
        "baseline_s": round(baseline, 1),
        "grade_s": round(graded, 1),
        "overhead": round(overhead, 4),
        "baseline_outside_cells_s": round(baseline_outside, 1),
        "grade_outside_cells_s": round(graded_outside, 1),
        "added_outside_cells": round(added, 4),
        "target": TARGET_OVERHEAD,
        "score": results["score"],
    }
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"Written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
