"""The class at a glance: ``class_report.html`` and ``class_summary.csv`` of a graded batch.

The page is one self-contained file (its charts are PNGs inside it): the score
distribution, each check's pass rate (lowest first), the grader-measured test accuracy of
the lab models against the rubric's bars, the time per submission, the submissions that
could not be graded or hit a limit (each with its reason and a link to its feedback), and
the pairs of submissions whose code is alike, side by side with the shared lines marked.
`grade-batch` writes both files with grades.csv; ``mnist-lab class-report OUT_DIR`` makes
them again from a finished folder.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import os
import statistics
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from mnist_lab.classroom.records import ClassRecord, read_class
from mnist_lab.classroom.similarity import DEFAULT_THRESHOLD, Match, find_matches
from mnist_lab.grading.batch import GRADED, write_atomically
from mnist_lab.grading.rubric import Rubric, load_rubric

REPORT_HTML = "class_report.html"
SUMMARY_CSV = "class_summary.csv"
SIMILARITY_CSV = "similarity.csv"
ACCURACY_CHECKS = {"test_accuracy": "lab_accuracy", "improved_accuracy": "improved_accuracy"}
# What a cell error says when the notebook met one of the grader's limits.
LIMIT_WORDS = ("memory limit", "time limit", "ran past", "disk", "timeout", "output limit")


def _figure_png(draw) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.4, 3.2), dpi=110)
    draw(axis)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="" src="data:image/png;base64,{encoded}">'


def _scores(records: Sequence[ClassRecord]) -> list[float]:
    return [r.record.results.score for r in records if r.record.results is not None]


def pass_rates(records: Sequence[ClassRecord], rubric: Rubric) -> list[tuple[str, float]]:
    """Each check's share of graded students who passed it, lowest first."""
    graded = [r.record.results for r in records if r.record.status == GRADED and r.record.results]
    rates = []
    for name in rubric.checks:
        passed = [results.check(name).passed for results in graded if name in results.names]
        rates.append((name, sum(passed) / len(passed) if passed else 0.0))
    return sorted(rates, key=lambda item: (item[1], item[0]))


def problems(records: Sequence[ClassRecord]) -> list[tuple[str, str, str]]:
    """(student, what happened, reason) for each submission not graded or stopped at a limit."""
    found = []
    for record in records:
        if record.record.status != GRADED:
            found.append((record.student, record.record.status, record.record.message))
            continue
        results = record.record.results
        for error in results.cell_errors if results else ():
            text = error.message.lower()
            if error.kind in ("timeout", "dead kernel", "skipped") or any(
                word in text for word in LIMIT_WORDS
            ):
                found.append((record.student, f"{error.kind} in {error.where()}", error.message))
                break
    return found


def summary_rows(records: Sequence[ClassRecord], rubric: Rubric) -> list[tuple[str, str, str]]:
    """class_summary.csv's rows: (kind, name, value)."""
    scores = _scores(records)
    maximum = rubric_maximum(rubric)
    rows = [
        ("class", "students", str(len(records))),
        ("class", "graded", str(sum(r.record.status == GRADED for r in records))),
        ("class", "not_graded", str(sum(r.record.status != GRADED for r in records))),
        ("score", "mean", f"{statistics.fmean(scores):.2f}" if scores else ""),
        ("score", "median", f"{statistics.median(scores):g}" if scores else ""),
        ("score", "at_full_marks", str(sum(score >= maximum for score in scores))),
        ("score", "at_zero", str(sum(score == 0 for score in scores))),
    ]
    rows += [("pass_rate", name, f"{rate:.3f}") for name, rate in pass_rates(records, rubric)]
    for check, threshold in ACCURACY_CHECKS.items():
        measured = [a for r in records if (a := r.measured_accuracy(check)) is not None]
        bar = getattr(rubric.thresholds, threshold)
        rows += [
            (f"accuracy:{check}", "measured", str(len(measured))),
            (
                f"accuracy:{check}",
                "median",
                f"{statistics.median(measured):.4f}" if measured else "",
            ),
            (f"accuracy:{check}", "at_or_above_bar", str(sum(a >= bar for a in measured))),
            (f"accuracy:{check}", "bar", f"{bar:g}"),
        ]
    seconds = [r.record.seconds for r in records if r.record.seconds]
    rows += [
        ("seconds", "median", f"{statistics.median(seconds):.1f}" if seconds else ""),
        ("seconds", "max", f"{max(seconds):.1f}" if seconds else ""),
        ("problems", "submissions", str(len(problems(records)))),
    ]
    return rows


def rubric_maximum(rubric: Rubric) -> float:
    return sum(spec.points for spec in rubric.checks.values() if not spec.extra_credit)


def _charts(records: Sequence[ClassRecord], rubric: Rubric) -> dict[str, str]:
    scores, maximum = _scores(records), rubric_maximum(rubric)

    def histogram(axis):
        axis.hist(scores, bins=range(0, int(maximum) + 15, 5), color="#4c72b0", edgecolor="white")
        axis.axvline(maximum, color="#555", linestyle="--", linewidth=1)
        axis.set(xlabel="score (extra credit included)", ylabel="students")

    rates = pass_rates(records, rubric)

    def bars(axis):
        names = [name for name, _ in rates]
        values = [rate * 100 for _, rate in rates]
        axis.barh(names, values, color=["#c44e52" if v < 50 else "#55a868" for v in values])
        axis.invert_yaxis()
        axis.set(xlim=(0, 100), xlabel="students who passed (%)")

    def accuracy(axis):
        colours = ("#4c72b0", "#dd8452")
        for (check, threshold), colour in zip(ACCURACY_CHECKS.items(), colours, strict=True):
            measured = [a for r in records if (a := r.measured_accuracy(check)) is not None]
            if measured:
                axis.hist(measured, bins=20, alpha=0.7, color=colour, label=check)
            axis.axvline(getattr(rubric.thresholds, threshold), color=colour, linestyle="--")
        axis.set(
            xlabel="test accuracy measured by the grader (dashed: the rubric's bars)",
            ylabel="students",
        )
        if axis.get_legend_handles_labels()[0]:  # no legend when nothing was measured
            axis.legend(fontsize=8)

    def times(axis):
        seconds = sorted(r.record.seconds for r in records)
        axis.bar(range(1, len(seconds) + 1), [s / 60 for s in seconds], color="#8172b3")
        axis.set(xlabel="submissions, fastest first", ylabel="minutes to grade")

    return {
        "scores": _figure_png(histogram),
        "checks": _figure_png(bars),
        "accuracy": _figure_png(accuracy),
        "times": _figure_png(times),
    }


def _code_block(cell: str, marked: set[int]) -> str:
    lines = []
    for number, line in enumerate(cell.splitlines(), start=1):
        text = html.escape(line) or " "
        lines.append(f'<span class="hit">{text}</span>' if number in marked else text)
    return "<pre>" + "\n".join(lines) + "</pre>"


def _pair_html(match: Match, code: dict[str, tuple[str, ...]]) -> str:
    parts = [
        f"<h3>{html.escape(match.first)} and {html.escape(match.second)}: "
        f"{match.score:.0%} alike ({match.shared} shared fingerprints)</h3>"
    ]
    for cell_a, lines_a, cell_b, lines_b in match.cells:
        left = code[match.first][cell_a - 1]
        right = code[match.second][cell_b - 1]
        parts.append(
            '<div class="pair">'
            f"<div><p>{html.escape(match.first)}, code cell {cell_a}</p>"
            f"{_code_block(left, set(lines_a))}</div>"
            f"<div><p>{html.escape(match.second)}, code cell {cell_b}</p>"
            f"{_code_block(right, set(lines_b))}</div></div>"
        )
    return "\n".join(parts)


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
img { max-width: 100%; height: auto; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; margin-bottom: 1em; }
.pair > div { min-width: 0; }
pre { background: #f7f7f7; padding: 0.5em; overflow-x: auto; font-size: 12px; }
.hit { background: #ffe08a; }
"""


def render_html(
    records: Sequence[ClassRecord], rubric: Rubric, matches: Sequence[Match], threshold: float
) -> str:
    charts = _charts(records, rubric)
    rows = dict(((kind, name), value) for kind, name, value in summary_rows(records, rubric))
    code = {r.student: r.code for r in records if r.code is not None}
    problem_rows = (
        "".join(
            f'<tr><td><a href="{quote(student)}/feedback.html">{html.escape(student)}</a></td>'
            f"<td>{html.escape(what)}</td><td>{html.escape(reason)}</td></tr>"
            for student, what, reason in problems(records)
        )
        or '<tr><td colspan="3">none</td></tr>'
    )
    rate_rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{rate:.0%}</td></tr>"
        for name, rate in pass_rates(records, rubric)
    )
    pairs = "\n".join(_pair_html(match, code) for match in matches) or (
        f"<p>No two submissions are {threshold:.0%} alike or more.</p>"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Class report</title>
<style>{STYLE}</style></head><body>
<h1>Class report</h1>
<p>{rows["class", "students"]} students: {rows["class", "graded"]} graded,
{rows["class", "not_graded"]} not graded. Score: mean {rows["score", "mean"]}, median
{rows["score", "median"]} (out of {rubric_maximum(rubric):g}, extra credit included);
{rows["score", "at_full_marks"]} at full marks, {rows["score", "at_zero"]} at zero.</p>
<h2>Scores</h2>{charts["scores"]}
<h2>Checks, the least passed first</h2>{charts["checks"]}
<table><tr><th>check</th><th>passed</th></tr>{rate_rows}</table>
<h2>Test accuracy the grader measured</h2>{charts["accuracy"]}
<h2>Time to grade each submission</h2>{charts["times"]}
<h2>Not graded, or stopped at a limit</h2>
<table><tr><th>student</th><th>what happened</th><th>why</th></tr>{problem_rows}</table>
<h2>Similar code (threshold {threshold:.0%})</h2>
<p>The students' own code, the template's left out; renaming, reformatting, reordering
cells and comments do not hide a copy. Shared lines are marked. A match is a reason to look,
not a verdict.</p>
{pairs}
</body></html>
"""


def spreadsheet_safe(text: str) -> str:
    """A student's name as a CSV cell a spreadsheet shows and never runs as a formula."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def similarity_csv(matches: Sequence[Match]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["first", "second", "score", "shared_fingerprints", "matching_cells"])
    for match in matches:
        cells = " ".join(f"{a}:{b}" for a, _, b, _ in match.cells)
        first, second = spreadsheet_safe(match.first), spreadsheet_safe(match.second)
        writer.writerow([first, second, f"{match.score:.3f}", match.shared, cells])
    return buffer.getvalue()


def write_class_report(
    out_dir: str | os.PathLike,
    *,
    rubric: Rubric | str | os.PathLike | None = None,
    template_cells: Sequence[str] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[Match]:
    """Write class_report.html, class_summary.csv and similarity.csv into ``out_dir``.

    All three are made before any is written, so that a failure leaves the previous set
    whole; the page is written last, and an old page is removed if writing fails.
    """
    out_dir = Path(out_dir)
    rubric = rubric if isinstance(rubric, Rubric) else load_rubric(rubric)
    records = read_class(out_dir)
    if template_cells is None:
        template_cells = default_template_cells()
    code = {r.student: list(r.code) for r in records if r.code is not None}
    matches = find_matches(code, template_cells, threshold=threshold)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["kind", "name", "value"])
    writer.writerows(summary_rows(records, rubric))
    page = render_html(records, rubric, matches, threshold)
    try:
        write_atomically(out_dir / SUMMARY_CSV, buffer.getvalue())
        write_atomically(out_dir / SIMILARITY_CSV, similarity_csv(matches))
        write_atomically(out_dir / REPORT_HTML, page)
    except OSError:
        (out_dir / REPORT_HTML).unlink(missing_ok=True)  # never an old page beside new files
        raise
    return matches


def default_template_cells() -> list[str]:
    """The code cells of the kit's student template (the code every student was given)."""
    import nbformat

    from mnist_lab.assignment import TEMPLATE_NOTEBOOK

    template = nbformat.read(TEMPLATE_NOTEBOOK, as_version=4)
    return [cell.source for cell in template.cells if cell.cell_type == "code"]
