"""Benchmark: `mnist-lab run` against a plain Python script running the same notebook code.

In one run, on the same machine:

1. baseline: the solution notebook's code cells, exported as one plain Python script
   (IPython display calls made harmless), run with ``python`` - the same model trained the
   same way, with no kernel, no export and no report;
2. kit: ``mnist-lab run`` of the same notebook, which adds the Jupyter kernel, the export of
   the trained models, their re-evaluation and the whole lab report.

It prints both wall times and the ratio kit / baseline (target: at most 1.25).
Usage: ``MNIST_PATH=../shared/data/mnist.npz python benchmarks/bench_run.py [NOTEBOOK]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 1.25
PRELUDE = """\
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
plt.show = lambda *args, **kwargs: plt.close("all")
"""


def notebook_as_script(notebook_path: Path) -> str:
    """The notebook's code cells as one script; IPython-only lines are dropped."""
    notebook = nbformat.read(notebook_path, as_version=4)
    lines = [PRELUDE]
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for line in cell.source.splitlines():
            if line.lstrip().startswith(("%", "!")):
                continue
            lines.append(line)
        lines.append("")
    return "\n".join(lines)


def timed(command: list[str], cwd: Path, env: dict) -> float:
    started = time.perf_counter()
    finished = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if finished.returncode != 0:
        raise SystemExit(
            f"{command[1]} failed (exit {finished.returncode}):\n{finished.stderr[-3000:]}"
        )
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "notebook", nargs="?", type=Path, default=ROOT / "solution" / "mnist_cnn_lab.ipynb"
    )
    args = parser.parse_args()
    notebook = args.notebook.resolve()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    with tempfile.TemporaryDirectory(prefix="bench-run-") as scratch:
        scratch = Path(scratch)
        script = scratch / "lab_script.py"
        script.write_text(notebook_as_script(notebook))
        print(f"baseline: python {script.name} (the notebook's code as a script) ...", flush=True)
        baseline = timed([sys.executable, str(script)], cwd=notebook.parent, env=env)
        print(f"  {baseline:.1f} s", flush=True)
        print("kit: mnist-lab run (kernel, export, evaluation, report) ...", flush=True)
        out = scratch / "report"
        kit = timed(
            [sys.executable, "-m", "mnist_lab", "-q", "run", str(notebook), "--out", str(out)],
            cwd=ROOT,
            env=env,
        )
        print(f"  {kit:.1f} s", flush=True)
        summary = json.loads((out / "summary.json").read_text())
    ratio = kit / baseline
    verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
    print(
        f"\nbaseline {baseline:.1f} s, mnist-lab run {kit:.1f} s, "
        f"ratio {ratio:.3f} ({verdict} target <= {TARGET_RATIO})"
    )
    print(f"test accuracy {summary['test_accuracy']:.4f}, training {summary['training_seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
