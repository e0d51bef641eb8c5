"""Benchmark: what `mnist-lab grade` adds over running the same notebook with plain nbclient.

In one run, on the same machine, one after the other:

1. baseline: the notebook executed by nbclient alone (``NotebookClient(...).execute()``) in
   a fresh Python process, in a scratch copy of its folder: the kernel and the notebook's
   own cells, nothing else;
2. grade: ``mnist-lab grade`` of the same notebook, which adds the sandbox around the
   kernel, the checker process (started while the notebook runs), the export of the lab's
   objects, every check and the four result files.

It prints both wall times and the overhead, grade / baseline - 1 (target: at most 6%;
nbgrader's autograde adds about 6% over plain execution, without isolation).
Usage: ``MNIST_PATH=../shared/data/mnist.npz python benchmarks/bench_grade.py [NOTEBOOK]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_run import timed  # noqa: E402

TARGET_OVERHEAD = 0.06
# Run in its own process so that both sides pay for one Python start-up.
PLAIN_NBCLIENT = """\
import sys
import nbformat
from nbclient import NotebookClient

notebook = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(
    notebook, timeout=1800, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}
).execute()
"""


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
        command = [sys.executable, "-c", PLAIN_NBCLIENT, str(copy), str(plain_dir)]
        baseline = timed(command, cwd=plain_dir, env=env)
        print(f"  {baseline:.1f} s", flush=True)
        print("grade: mnist-lab grade (sandbox, checker, export, checks, results) ...", flush=True)
        out = scratch / "grade"
        command = [
            sys.executable,
            "-m",
            "mnist_lab",
            "-q",
            "grade",
            str(notebook),
            "--out",
            str(out),
        ]
        graded = timed(command, cwd=ROOT, env=env)
        print(f"  {graded:.1f} s", flush=True)
        results = json.loads((out / "results.json").read_text())
    overhead = graded / baseline - 1
    verdict = "meets" if overhead <= TARGET_OVERHEAD else "MISSES"
    print(
        f"\nbaseline {baseline:.1f} s, mnist-lab grade {graded:.1f} s, "
        f"overhead {overhead:+.1%} ({verdict} target <= {TARGET_OVERHEAD:.0%})"
    )
    print(f"score {results['score']:g}; grading's own execution_time {results['execution_time']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
