"""Similarity check: time against class size, against a naive all-pairs baseline.

A synthetic class: each student's answers are picked step by step from the four independent
solutions of tests/fixtures/similarity.py, with numbers changed at random (filters, units,
epochs), and one student in twenty hands in a disguised copy of another. For each class
size, `find_matches` (fingerprint index) is timed against a baseline that fingerprints the
same way and then compares every pair of students' sets (the obvious way), in one run.
Prints both times, their ratio, and whether the planted copies were found; writes the
figures to benchmarks/results/bench_similarity.json. The synthetic students draw each step
from the same four solutions, so many pairs share whole steps by construction and are
listed too ("other"): this benchmark measures time; precision and recall are measured on
the planted class of tests/classroom/test_similarity.py.

    .venv/bin/python benchmarks/bench_similarity.py [--sizes 50 100 200 500]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mnist_lab.classroom import similarity  # noqa: E402
from tests.fixtures.similarity import (  # noqa: E402
    INDEPENDENT,
    _fill,
    everything,
    template_cells,
)

NUMBER = re.compile(r"\b(16|24|32|48|64|128|256)\b")


def synthetic_class(size: int, seed: int = 0) -> tuple[dict[str, list[str]], set[frozenset]]:
    rng = random.Random(seed)
    sources = list(INDEPENDENT.values())
    answers = {}
    for index in range(size):
        picked = {step: rng.choice(sources)[step] for step in sources[0]}
        tweak = lambda m: str(rng.choice([16, 24, 32, 48, 64, 96, 128]))  # noqa: E731
        answers[f"s{index:03d}"] = {step: NUMBER.sub(tweak, code) for step, code in picked.items()}
    copies = set()
    for index in range(0, size, 20):
        original, copy = f"s{index:03d}", f"s{index + 1:03d}"
        if copy in answers:
            answers[copy] = everything(answers[original])
            copies.add(frozenset((original, copy)))
    return {name: _fill(steps) for name, steps in answers.items()}, copies


def naive(code: dict[str, list[str]], template: list[str], threshold: float) -> set[frozenset]:
    """Every pair compared directly, with the same fingerprints and rules."""
    ignored = similarity.template_fingerprints(template)
    prints = {
        name: set(similarity.prepare(name, cells, template).fingerprints) - ignored
        for name, cells in code.items()
    }
    names, found = sorted(prints), set()
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            shared = len(prints[first] & prints[second])
            smaller = min(len(prints[first]), len(prints[second])) or 1
            if shared >= similarity.MIN_SHARED and shared / smaller >= threshold:
                found.add(frozenset((first, second)))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200, 500])
    args = parser.parse_args()
    template = template_cells()
    rows = []
    print(f"{'students':>8} {'find_matches s':>15} {'all pairs s':>12} {'ratio':>6}  copies found")
    for size in args.sizes:
        code, copies = synthetic_class(size)
        started = time.perf_counter()
        matches = similarity.find_matches(code, template)
        indexed = time.perf_counter() - started
        started = time.perf_counter()
        naive(code, template, similarity.DEFAULT_THRESHOLD)
        baseline = time.perf_counter() - started
        found = {frozenset((m.first, m.second)) for m in matches}
        row = {
            "students": size,
            "find_matches_s": round(indexed, 3),
            "all_pairs_s": round(baseline, 3),
            "ratio": round(indexed / baseline, 3),
            "copies_planted": len(copies),
            "copies_found": len(found & copies),
            "other_pairs_flagged": len(found - copies),
        }
        rows.append(row)
        print(
            f"{size:>8} {indexed:>15.2f} {baseline:>12.2f} {indexed / baseline:>6.2f}  "
            f"{len(found & copies)}/{len(copies)} (+{len(found - copies)} other)"
        )
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "bench_similarity.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
