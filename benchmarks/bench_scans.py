"""Benchmark: the reference models on real photos of handwritten digits, by preprocessing.

In one run, on a folder of labelled scans (default ``../shared/scanned_digits``, photos taken
by many people, read in place and never copied into the project), each model predicts every
image three ways:

1. ``to_mnist``: the kit's MNIST-style preprocessing (`mnist_lab.scans.to_mnist`);
2. ``naive``: the write-ups' step, the whole image squeezed to 28x28, grey, divided by 255;
3. ``naive-inverted``: the same, inverted (255 - x), as the write-ups also try.

With ``--baseline REV``, ``to_mnist`` as it was at git revision REV
(src/mnist_lab/scans/preprocess.py there) is measured too, as ``to_mnist@REV``, in the same
run. ``--model`` may be given more than once: every model reads every image.

It prints the accuracy of each, overall and per source (the part of the file name between
the digit and the last ``_N``: ``0_abhighule_1.jpg`` comes from ``abhighule``), then lists
each image ``to_mnist`` (and the baseline) gets wrong (``--all-failures``: also the naive
steps' failures). It writes the figures to benchmarks/results/bench_scans.json
(``--results PATH``: elsewhere, for another folder). Times are per image, preprocessing and
prediction, after a first prediction has warmed the model up.
Usage: ``python benchmarks/bench_scans.py [FOLDER] [--model PATH ...] [--baseline REV]
[--all-failures] [--results PATH]``
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FOLDER = ROOT.parent / "shared" / "scanned_digits"
RESULTS = ROOT / "benchmarks" / "results" / "bench_scans.json"
PREPROCESS = "src/mnist_lab/scans/preprocess.py"
METHODS = ("to_mnist", "naive", "naive-inverted")
SOURCE_PATTERN = re.compile(r"\d_(?P<source>.+)_\d+")


def source_of(path: Path) -> str:
    """The source in a name like ``<digit>_<source>_<n>.<ext>`` ("other" when it does not fit)."""
    match = SOURCE_PATTERN.fullmatch(path.stem)
    return match["source"] if match else "other"


def right_count(samples, predictions) -> int:
    return sum(
        1
        for sample, prediction in zip(samples, predictions, strict=True)
        if prediction.digit == sample.label
    )


def accuracy_cell(right: int, total: int) -> str:
    return f"{right}/{total} {right / total:6.1%}"


def groups_of(samples) -> dict[str, list[int]]:
    """The samples' indices by source, then all of them under "all"."""
    groups = defaultdict(list)
    for index, sample in enumerate(samples):
        groups[source_of(sample.path)].append(index)
    groups["all"] = list(range(len(samples)))
    return groups


def print_accuracy(samples, results) -> None:
    """One row per source and one for all, a column per method."""
    groups = groups_of(samples)
    width = max(len(name) for name in groups)
    columns = max(16, *(len(method) for method in results))
    print(f"{'source':<{width}}  {'images':>6}  " + "  ".join(f"{m:>{columns}}" for m in results))
    for name, indices in groups.items():
        if name == "all":
            print("-" * (width + 8 + (columns + 2) * len(results)))
        cells = []
        for method in results:
            picked = [results[method][i] for i in indices]
            right = right_count([samples[i] for i in indices], picked)
            cells.append(f"{accuracy_cell(right, len(indices)):>{columns}}")
        print(f"{name:<{width}}  {len(indices):>6}  " + "  ".join(cells))


def failures_of(samples, predictions) -> list[dict]:
    """Each image read wrong: its file, label, and the digit and confidence (or the error)."""
    failures = []
    for sample, prediction in zip(samples, predictions, strict=True):
        if prediction.digit == sample.label:
            continue
        failure = {"file": sample.path.name, "label": sample.label}
        if prediction.predicted:
            failure |= {
                "predicted": prediction.digit,
                "confidence": round(prediction.confidence, 3),
            }
        else:
            failure["error"] = prediction.error.splitlines()[0]
        failures.append(failure)
    return failures


def print_failures(samples, results, method: str) -> None:
    failures = failures_of(samples, results[method])
    print(f"\nFailures with {method} ({len(failures)}):")
    if not failures:
        return
    width = max(len(failure["file"]) for failure in failures)
    print(f"  {'file':<{width}}  label  predicted  confidence")
    for failure in failures:
        if "error" in failure:
            outcome = f"{'-':>9}  {'-':>10}  ERROR: {failure['error']}"
        else:
            outcome = f"{failure['predicted']:>9}  {failure['confidence']:>10.3f}"
        print(f"  {failure['file']:<{width}}  {failure['label']:>5}  {outcome}")


def _resolved(revision: str) -> str:
    """ "HEAD (fb307e9)": the revision as given, and the commit it named."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", revision], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return f"{revision} ({commit})" if commit and commit != revision else revision


def register_baseline(revision: str) -> str:
    """Make ``to_mnist`` at git ``revision`` a preprocessing of `predict_images`; its name.

    Every module of the scans package at ``revision`` but its ``__init__`` (preprocess.py
    and what it imports from the package, such as strokes.py) is loaded from that revision
    as the package ``baseline_scans``, so that nothing of today's code mixes in.
    """
    from mnist_lab.scans.predict import PREPROCESSING
    from mnist_lab.scans.preprocess import ScanError

    def git(*arguments: str) -> str:
        return subprocess.run(
            ["git", *arguments], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout

    package = str(Path(PREPROCESS).parent)
    names = git("ls-tree", "--name-only", f"{revision}:{package}").split()
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory) / "baseline_scans"
        folder.mkdir()
        (folder / "__init__.py").write_text("")
        for name in names:
            if name.endswith(".py") and name != "__init__.py":
                source = git("show", f"{revision}:{package}/{name}")
                (folder / name).write_text(source.replace("mnist_lab.scans.", "baseline_scans."))
        sys.path.insert(0, directory)
        try:
            baseline = importlib.import_module("baseline_scans.preprocess")
        finally:
            sys.path.remove(directory)

    def to_mnist(image_or_path):
        try:
            return baseline.to_mnist(image_or_path)
        except baseline.ScanError as error:  # the baseline's own class: reported the same way
            raise ScanError(str(error)) from error

    name = f"to_mnist@{revision}"
    PREPROCESSING[name] = to_mnist
    return name


def measure(samples, model, methods) -> tuple[dict, dict]:
    """Each method's predictions of every sample, and the seconds each took."""
    from mnist_lab.scans.predict import predict_images

    results, seconds = {}, {}
    for method in methods:
        started = time.perf_counter()
        results[method] = predict_images(
            [sample.path for sample in samples], model=model, preprocessing=method
        )
        seconds[method] = time.perf_counter() - started
        print(
            f"{method}: {seconds[method]:.1f} s "
            f"({1000 * seconds[method] / len(samples):.0f} ms per image)"
        )
    return results, seconds


def figures(samples, results, seconds, listed) -> dict:
    """A model's figures: per method its accuracy overall and per source, and its failures."""
    groups = groups_of(samples)
    report = {}
    for method, predictions in results.items():
        right = right_count(samples, predictions)
        by_source = {}
        for name, indices in groups.items():
            if name != "all":
                picked = [predictions[i] for i in indices]
                by_source[name] = (
                    f"{right_count([samples[i] for i in indices], picked)}/{len(indices)}"
                )
        report[method] = {
            "right": right,
            "total": len(samples),
            "accuracy": round(right / len(samples), 4),
            "ms_per_image": round(1000 * seconds[method] / len(samples), 1),
            "by_source": by_source,
        }
        if method in listed:
            report[method]["failures"] = failures_of(samples, predictions)
    return report


def shown(path: Path) -> str:
    """A path relative to the project when it lies inside it, else its file name alone (no
    folder of this machine in the results)."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument(
        "--model",
        type=Path,
        action="append",
        metavar="PATH",
        help="a .keras model; repeat for several (default: build/report/improved_model.keras, "
        "else model.keras)",
    )
    parser.add_argument(
        "--baseline", metavar="REV", help="also measure to_mnist as it was at git revision REV"
    )
    parser.add_argument(
        "--all-failures", action="store_true", help="also list the naive steps' failures"
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        metavar="PATH",
        help="where to write the figures (default: %(default)s)",
    )
    args = parser.parse_args()

    from mnist_lab.paths import DEFAULT_REPORT_DIR
    from mnist_lab.quiet import import_tensorflow_quietly
    from mnist_lab.scans import read_manifest
    from mnist_lab.scans.predict import find_model

    model_paths = [
        find_model(model, report_dir=ROOT / DEFAULT_REPORT_DIR) for model in args.model or [None]
    ]
    samples = read_manifest(args.folder)
    methods = list(METHODS)
    if args.baseline:
        methods.insert(1, register_baseline(args.baseline))
    listed = [method for method in methods if method.startswith("to_mnist")]
    import_tensorflow_quietly()
    import numpy as np

    from mnist_lab.report.build import load_model_safely

    report = {
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "folder": os.path.relpath(args.folder.resolve(), ROOT),
        "images": len(samples),
        "baseline": args.baseline and _resolved(args.baseline),
        "models": {},
    }
    for number, model_path in enumerate(model_paths):
        model = load_model_safely(model_path)
        model.predict(np.zeros((1, 28, 28, 1), dtype=np.float32), verbose=0)  # warm-up
        print(("\n" if number else "") + f"model: {model_path}")
        print(f"scans: {args.folder} ({len(samples)} images)\n")
        results, seconds = measure(samples, model, methods)
        print()
        print_accuracy(samples, results)
        for method in methods if args.all_failures else listed:
            print_failures(samples, results, method)
        report["models"][shown(model_path)] = figures(samples, results, seconds, listed)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nWritten to {shown(args.results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
