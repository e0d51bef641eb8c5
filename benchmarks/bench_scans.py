"""Benchmark: the reference model on real photos of handwritten digits, by preprocessing.

In one run, on a folder of labelled scans (default ``../shared/scanned_digits``, photos taken
by many people, read in place and never copied into the project), the model predicts every
image three ways:

1. ``to_mnist``: the kit's MNIST-style preprocessing (`mnist_lab.scans.to_mnist`);
2. ``naive``: the write-ups' step, the whole image squeezed to 28x28, grey, divided by 255;
3. ``naive-inverted``: the same, inverted (255 - x), as the write-ups also try.

It prints the accuracy of each, overall and per source (the part of the file name between
the digit and the last ``_N``: ``0_abhighule_1.jpg`` comes from ``abhighule``), then lists
each image ``to_mnist`` gets wrong (``--all-failures``: also the naive steps' failures).
Usage: ``python benchmarks/bench_scans.py [FOLDER] [--model PATH] [--all-failures]``
"""

from __future__ import annotations

import argparse
import re
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FOLDER = ROOT.parent / "shared" / "scanned_digits"
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


def print_accuracy(samples, results) -> None:
    """One row per source and one for all, a column per method."""
    groups = defaultdict(list)
    for index, sample in enumerate(samples):
        groups[source_of(sample.path)].append(index)
    groups["all"] = list(range(len(samples)))
    width = max(len(name) for name in groups)
    print(f"{'source':<{width}}  {'images':>6}  " + "  ".join(f"{m:>16}" for m in METHODS))
    for name, indices in groups.items():
        if name == "all":
            print("-" * (width + 8 + 18 * len(METHODS)))
        cells = []
        for method in METHODS:
            picked = [results[method][i] for i in indices]
            right = right_count([samples[i] for i in indices], picked)
            cells.append(f"{accuracy_cell(right, len(indices)):>16}")
        print(f"{name:<{width}}  {len(indices):>6}  " + "  ".join(cells))


def print_failures(samples, results, method: str) -> None:
    failures = [
        (sample, prediction)
        for sample, prediction in zip(samples, results[method], strict=True)
        if prediction.digit != sample.label
    ]
    print(f"\nFailures with {method} ({len(failures)}):")
    if not failures:
        return
    width = max(len(sample.path.name) for sample, _ in failures)
    print(f"  {'file':<{width}}  label  predicted  confidence")
    for sample, prediction in failures:
        if prediction.predicted:
            outcome = f"{prediction.digit:>9}  {prediction.confidence:>10.3f}"
        else:
            outcome = f"{'-':>9}  {'-':>10}  ERROR: {prediction.error.splitlines()[0]}"
        print(f"  {sample.path.name:<{width}}  {sample.label:>5}  {outcome}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument(
        "--model",
        type=Path,
        metavar="PATH",
        help="the .keras model (default: build/report/improved_model.keras, else model.keras)",
    )
    parser.add_argument(
        "--all-failures", action="store_true", help="also list the naive steps' failures"
    )
    args = parser.parse_args()

    from mnist_lab.paths import DEFAULT_REPORT_DIR
    from mnist_lab.quiet import import_tensorflow_quietly
    from mnist_lab.scans import read_manifest
    from mnist_lab.scans.predict import find_model, predict_images

    model_path = find_model(args.model, report_dir=ROOT / DEFAULT_REPORT_DIR)
    samples = read_manifest(args.folder)
    import_tensorflow_quietly()
    from mnist_lab.report.build import load_model_safely

    model = load_model_safely(model_path)
    print(f"model: {model_path}")
    print(f"scans: {args.folder} ({len(samples)} images)\n")
    results = {}
    for method in METHODS:
        started = time.perf_counter()
        results[method] = predict_images(
            [sample.path for sample in samples], model=model, preprocessing=method
        )
        seconds = time.perf_counter() - started
        print(f"{method}: {seconds:.1f} s ({1000 * seconds / len(samples):.0f} ms per image)")
    print()
    print_accuracy(samples, results)
    for method in METHODS if args.all_failures else METHODS[:1]:
        print_failures(samples, results, method)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
