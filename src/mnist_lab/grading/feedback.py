"""Feedback for the student: ``feedback.md`` and a self-contained ``feedback.html``.

Both show, for each check, whether it passed, its points and its message; a hidden check
shows only whether it passed and its points. The answers the instructor grades by hand are
listed apart, each written or not yet, with no score. Everything from the notebook (error messages,
names) is escaped, so a submission cannot inject markup into the page.
"""

from __future__ import annotations

import html
import textwrap

from mnist_lab.grading.results import CheckResult, GradingResults, format_points

WRAP_WIDTH = 96
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem;
       color: #1a1a1a; line-height: 1.5; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { border-bottom: 1px solid #ddd; padding: .4rem .6rem; text-align: left;
         vertical-align: top; }
.passed { color: #176d2c; } .failed { color: #a61b1b; }
.check { border-left: 4px solid #ddd; padding: .2rem 1rem; margin: 1rem 0; }
.check.passed { border-color: #2e9d4c; } .check.failed { border-color: #d33; }
pre { white-space: pre-wrap; background: #f6f6f6; padding: .6rem; border-radius: 4px; }
"""


_ANSWERS_INTRO = (
    "The parts of the write-up in your own words. They are not in the score above: your "
    "instructor reads and grades them by hand."
)


def _status(check: CheckResult) -> str:
    return "passed" if check.passed else "not passed"


def _points(check: CheckResult) -> str:
    extra = " (extra credit)" if check.extra_credit else ""
    return f"{format_points(check.points)} / {format_points(check.max_points)}{extra}"


def _md_text(text: str) -> str:
    """Text as an indented markdown code block (no markup in it is interpreted), wrapped."""
    lines = [
        wrapped
        for line in (text or "(no details)").splitlines()
        for wrapped in (textwrap.wrap(line, WRAP_WIDTH, break_on_hyphens=False) or [""])
    ]
    return "\n".join("    " + line for line in lines)


def render_markdown(results: GradingResults) -> str:
    lines = [
        f"# Autograder feedback: {results.notebook}",
        "",
        f"**{results.summary_line()}**",
        "",
        "| # | check | result | points |",
        "| --- | --- | --- | --- |",
    ]
    for number, check in enumerate(results.checks, start=1):
        title = check.title.replace("|", "\\|")
        lines.append(f"| {number} | {title} | {_status(check)} | {_points(check)} |")
    for note in results.notes:
        lines += ["", note]
    if results.cell_errors:
        lines += ["", "## Cells that did not run to the end", ""]
        lines += [_md_text(error.describe()) for error in results.cell_errors]
    if results.answers:
        lines += ["", "## Graded by your instructor", "", _ANSWERS_INTRO, ""]
        lines += ["| answer | status | points |", "| --- | --- | --- |"]
        lines += [
            f"| {a.title} | {a.status} | {format_points(a.points)} |" for a in results.answers
        ]
    lines += ["", "## Details"]
    for number, check in enumerate(results.checks, start=1):
        hidden = " (hidden check)" if check.hidden else ""
        lines += [
            "",
            f"### {number}. {check.title}: {_status(check)}, {_points(check)}{hidden}",
            "",
            _md_text(check.student_message),
        ]
    return "\n".join(lines) + "\n"


def render_html(results: GradingResults) -> str:
    e = html.escape
    rows = "\n".join(
        f'<tr><td>{n}</td><td>{e(c.title)}</td><td class="{_css(c)}">{_status(c)}</td>'
        f"<td>{e(_points(c))}</td></tr>"
        for n, c in enumerate(results.checks, start=1)
    )
    details = "\n".join(
        f'<section class="check {_css(c)}"><h3>{n}. {e(c.title)}: {_status(c)}, '
        f"{e(_points(c))}{' (hidden check)' if c.hidden else ''}</h3>"
        f"<pre>{e(c.student_message)}</pre></section>"
        for n, c in enumerate(results.checks, start=1)
    )
    notes = "".join(f"<p>{e(note)}</p>" for note in results.notes)
    answers = ""
    if results.answers:
        answer_rows = "".join(
            f'<tr><td>{e(a.title)}</td><td class="{"passed" if a.written else "failed"}">'
            f"{e(a.status)}</td><td>{e(format_points(a.points))}</td></tr>"
            for a in results.answers
        )
        answers = (
            f"<h2>Graded by your instructor</h2><p>{e(_ANSWERS_INTRO)}</p><table><thead><tr>"
            "<th>answer</th><th>status</th><th>points</th></tr></thead>"
            f"<tbody>{answer_rows}</tbody></table>"
        )
    errors = ""
    if results.cell_errors:
        items = "".join(f"<li><pre>{e(err.describe())}</pre></li>" for err in results.cell_errors)
        errors = f"<h2>Cells that did not run to the end</h2><ul>{items}</ul>"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Autograder feedback: {e(results.notebook)}</title><style>{STYLE}</style></head>"
        f"<body><h1>Autograder feedback: {e(results.notebook)}</h1>"
        f"<p><strong>{e(results.summary_line())}</strong></p>{notes}"
        f"<table><thead><tr><th>#</th><th>check</th><th>result</th><th>points</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>{errors}{answers}<h2>Details</h2>{details}</body></html>\n"
    )


def _css(check: CheckResult) -> str:
    return "passed" if check.passed else "failed"
