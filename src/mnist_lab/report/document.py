"""The lab report as documents: report.md, a self-contained report.html and
classification_report.csv, following the sections of the lab's write-up (see LAB.md).

Student-provided text (name, register number, file names) is escaped for Markdown, and
the HTML is rendered with raw HTML disabled, so it can never inject markup or scripts.
"""

from __future__ import annotations

import base64
import html
import logging
import math
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import pygments
from markdown_it import MarkdownIt
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from mnist_lab.notebook.record import Answer, LabRecord
from mnist_lab.report.content import (
    CellError,
    LayerInfo,
    ModelResult,
    ReportContent,
    ScanPrediction,
)
from mnist_lab.report.diagram import layer_category
from mnist_lab.report.figures import draw_all
from mnist_lab.report.pdf import write_pdf

logger = logging.getLogger(__name__)

REPORT_TITLE = "Convolutional Deep Neural Network for Digit Classification"
NOT_WRITTEN = "Not written yet."
CSV_COLUMNS = ["class", "precision", "recall", "f1-score", "support"]
HTML_STYLE = """
/* Screen: one readable column; nothing may widen the page. Long words, file names and
   code lines wrap; a table too wide for the page scrolls sideways in its own box. */
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       max-width: 980px; margin: 2em auto; padding: 0 1.2em; color: #222; line-height: 1.5; }
h1 { border-bottom: 3px solid #2471a3; padding-bottom: .3em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; color: #1b4f72; }
h3 { margin-top: 1.6em; }
h1, h2, h3, h4, h5, h6, p, li, dt, dd { overflow-wrap: anywhere; }
img { max-width: 100%; height: auto; display: block; margin: 1em auto;
      border: 1px solid #ddd; box-sizing: border-box; }
table { display: block; max-width: 100%; overflow-x: auto; border-collapse: collapse;
        margin: 1em 0; font-size: .92em; }
th, td { border: 1px solid #ccc; padding: .3em .7em; overflow-wrap: break-word;
         max-width: min(30em, 75vw); }
th { background: #eaf2f8; }
tr:nth-child(even) td { background: #f8f9f9; }
code { background: #f4f4f4; padding: .1em .3em; border-radius: 3px; font-size: .92em; }
pre { background: #f6f8fa; border: 1px solid #dde3e8; border-radius: 4px;
      padding: .7em 1em; margin: .5em 0 1.2em; font-size: .88em; line-height: 1.45;
      white-space: pre-wrap; overflow-wrap: anywhere; overflow-x: auto; }
pre code { background: none; padding: 0; border-radius: 0; font-size: inherit; }
/* A notebook cell: its label paragraph sits close above the block; the student's own
   cells (```python student) get a coloured edge. */
p:has(+ pre) { margin-bottom: .2em; }
pre:has(> code.student-code), pre.student-code { border-left: 4px solid #d68910;
                                                 background: #fffaf2; }
blockquote { margin: .6em 0 1.2em; padding: .4em 1em; border-left: 4px solid #7fb3d5;
             background: #f4f8fb; color: #333; overflow-wrap: anywhere; }
blockquote > :first-child { margin-top: .3em; }
blockquote > :last-child { margin-bottom: .3em; }
/* A file or layer name in a table wraps anywhere when the page has room; on a phone a
   table keeps its words whole and scrolls instead of being squeezed letter by letter. */
@media (min-width: 601px) { td code, th code { overflow-wrap: anywhere; } }
@media (max-width: 600px) {
  body { margin: 1em auto; padding: 0 .7em; }
  th, td { padding: .25em .4em; }
  pre { padding: .5em .6em; }
}
/* Print on A4: the page's full width, figures no taller than a page, nothing clipped
   (a box cannot scroll on paper, so table cells and code break anywhere to fit). */
@page { size: A4; margin: 15mm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10.5pt; color: #000; }
  h1, h2, h3, h4, p:has(+ pre) { break-after: avoid; }
  img { max-height: 250mm; width: auto; break-inside: avoid; }
  table { overflow: visible; }
  th, td { padding: .2em .4em; overflow-wrap: anywhere; max-width: 20em; }
  tr, blockquote { break-inside: avoid; }
  thead { display: table-header-group; }
  pre { overflow: visible; }
  th, td, pre, blockquote, code { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
}
"""
# The characters that can start Markdown syntax in the middle of a line (student text never
# starts a line): emphasis, code, links, raw HTML, entities, table cells, strike-through.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|&~])")
_HEADING = re.compile(r"^ {0,3}(#{1,2})[ \t]+(.*?)[ \t#]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# nbgrader's markers in the solution's cells: not part of the program.
_MARKER = re.compile(r"^\s*### (BEGIN|END) (SOLUTION|HIDDEN TESTS)\s*$")


def write_report(content: ReportContent, out_dir: Path | str) -> dict[str, Path]:
    """Write report.md, report.html, report.pdf and classification_report.csv into `out_dir`.

    The figures are `content.figures` when given (copied into out_dir/figures when they lie
    elsewhere), else drawn there with `figures.draw_all`. Returns the written documents by
    file name: "report.md", "report.html", "report.pdf", "classification_report.csv".
    """
    out_dir = Path(out_dir)
    figure_dir = out_dir / "figures"
    figure_dir.mkdir(parents=True, exist_ok=True)
    figures = dict(content.figures) or draw_all(content, figure_dir)
    figures = {name: _into(figure_dir, Path(path)) for name, path in figures.items()}
    links = {name: f"figures/{path.name}" for name, path in figures.items()}
    markdown = render_markdown(content, links)
    written = {
        "report.md": out_dir / "report.md",
        "report.html": out_dir / "report.html",
        "classification_report.csv": out_dir / "classification_report.csv",
    }
    written["report.md"].write_text(markdown, encoding="utf-8")
    page_title = f"{REPORT_TITLE}: {content.student_name} ({content.register_number})"
    images = {links[name]: path for name, path in figures.items()}
    written["report.html"].write_text(
        markdown_to_html(markdown, images, title=page_title), encoding="utf-8"
    )
    written["report.pdf"] = write_pdf(
        markdown,
        images,
        out_dir / "report.pdf",
        title=REPORT_TITLE,
        student_name=content.student_name,
        register_number=content.register_number,
    )
    classification_report_frame(content.classification_report).to_csv(
        written["classification_report.csv"], index=False
    )
    logger.debug("Wrote the lab report to %s", out_dir)
    return written


def classification_report_frame(report: Mapping) -> pd.DataFrame:
    """A scikit-learn `classification_report(..., output_dict=True)` as a table: one row per
    class, then accuracy (its value under f1-score, as sklearn prints it), macro avg and
    weighted avg; columns class, precision, recall, f1-score, support."""
    class_support = sum(
        int(value["support"])
        for key, value in report.items()
        if isinstance(value, Mapping) and not str(key).endswith(" avg")
    )
    rows = []
    for key, value in report.items():
        if isinstance(value, Mapping):
            rows.append({"class": str(key), **{c: value.get(c) for c in CSV_COLUMNS[1:]}})
        else:  # "accuracy" is a bare number
            rows.append({"class": str(key), "f1-score": value, "support": class_support})
    frame = pd.DataFrame(rows, columns=CSV_COLUMNS)
    frame["support"] = frame["support"].astype(int)
    return frame


def render_markdown(content: ReportContent, figure_links: Mapping[str, str]) -> str:
    """The report in Markdown; `figure_links` maps figure names to their relative paths.

    AIM, THEORY and DESIGN STEPS are the notebook's own sections, and each of the student's
    answers stands in the section it was written in; PROGRAM is the notebook's code; the
    model, OUTPUT and RESULT figures are the kit's, computed from the saved models.
    """
    record = content.record
    placed = {"AIM", "THEORY", "NEURAL NETWORK MODEL", "DESIGN STEPS", "OUTPUT", "RESULT"}
    elsewhere = [
        answer
        for section, answers in record.answers.items()
        if section not in placed
        for answer in answers
    ]
    sections = (
        _header(content),
        _errors_notice(content.cell_errors),
        _section("AIM", _notebook_lines(record, "AIM")),
        _section("THEORY", _notebook_lines(record, "THEORY")),
        _section(
            "NEURAL NETWORK MODEL",
            [
                *_notebook_lines(record, "NEURAL NETWORK MODEL", required=False),
                *_model_lines(content.model, figure_links, ""),
            ],
        ),
        _section("DESIGN STEPS", _notebook_lines(record, "DESIGN STEPS")),
        _section("PROGRAM", _program_lines(record, content.cell_errors)),
        _section("OUTPUT", _output_lines(content, figure_links)),
        _section(
            "RESULT",
            [
                *_answer_lines(record, "RESULT"),
                *[line for answer in elsewhere for line in _answer(answer)],
                "### Measured by the kit" if record.answers.get("RESULT") or elsewhere else "",
                result_sentence(content),
            ],
        ),
    )
    return "\n\n".join(part for section in sections for part in section if part) + "\n"


def markdown_to_html(markdown: str, images: Mapping[str, Path], *, title: str) -> str:
    """A self-contained HTML page from the report's Markdown: raw HTML in the Markdown is
    shown as text, every image whose link is a key of `images` is embedded as a base64
    data URI, and any other image (one a notebook's Markdown links) is shown as its alt
    text, so the page needs no other file and loads nothing from the network. Code blocks
    are highlighted; the student's own cells (info string ``python student``) are marked."""
    parser = MarkdownIt("commonmark", {"html": False, "highlight": _highlight}).enable("table")
    tokens = parser.parse(markdown)
    for token in tokens:
        if token.type == "fence" and token.info.split()[1:2] == ["student"]:
            token.attrSet("class", "student-code")
        for child in token.children or ():
            if child.type != "image":
                continue
            source = child.attrGet("src")
            if source in images:
                encoded = base64.b64encode(Path(images[source]).read_bytes()).decode("ascii")
                child.attrSet("src", f"data:image/png;base64,{encoded}")
            else:
                alt = "".join(grandchild.content for grandchild in child.children or ())
                child.type, child.tag, child.attrs, child.children = "text", "", {}, None
                child.content = f"[image: {alt}]" if alt else "[image]"
    body = parser.renderer.render(tokens, parser.options, {})
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{HTML_STYLE}</style>\n</head>\n"
        f"<body>\n{body}</body>\n</html>\n"
    )


def _highlight(code: str, language: str, _attrs) -> str:
    """Python code as HTML with inline colours (Pygments), "" for other languages (then
    markdown-it escapes it as it is)."""
    if language != "python":
        return ""
    formatter = HtmlFormatter(nowrap=True, noclasses=True, style="friendly")
    return pygments.highlight(code, PythonLexer(), formatter)


def result_sentence(content: ReportContent) -> str:
    """The RESULT: what was built, its measured test accuracy and the scanned digits' score."""
    convolutional = any(layer_category(layer.kind) == "conv" for layer in content.model.layers)
    network = (
        "A convolutional deep neural network"
        if convolutional
        else "A deep neural network (without convolution layers)"
    )
    sentence = (
        f"{network} was developed for digit classification; it reached "
        f"{_percent(content.model.test_accuracy)} accuracy on the {len(content.y_true):,} "
        f"MNIST test images"
    )
    labelled = [scan for scan in content.scans if scan.label is not None]
    if labelled:
        right = sum(bool(scan.correct) for scan in labelled)
        sentence += (
            f" and classified {right} of {len(labelled)} scanned handwritten digits correctly."
        )
    elif content.scans:
        sentence += f" and gave predictions for {len(content.scans)} scanned handwritten digits."
    else:
        sentence += "; no scanned handwritten digits were supplied to verify it on."
    if content.improved is not None:
        sentence += (
            f" The improved model reached {_percent(content.improved.test_accuracy)} "
            "on the same test images."
        )
    return sentence


def escape_markdown(text: object) -> str:
    """`text` as literal Markdown inside a line or table cell: characters that could start
    Markdown syntax or raw HTML are backslash-escaped, line breaks turned into spaces."""
    flat = " ".join(str(text).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)


def _header(content: ReportContent) -> list[str]:
    return [
        f"# {REPORT_TITLE}",
        f"**NAME:** {escape_markdown(content.student_name)}",
        f"**REGISTER NUMBER:** {escape_markdown(content.register_number)}",
    ]


def _section(heading: str, lines: Sequence[str]) -> list[str]:
    return [f"## {heading}", *lines]


def _numbered(items: Sequence[str]) -> str:
    return "\n".join(f"{number}. {item}" for number, item in enumerate(items, start=1))


def _notebook_lines(record: LabRecord, section: str, *, required: bool = True) -> list[str]:
    """The notebook's own text of ``section``, then the answers written in it."""
    text = record.sections.get(section)
    if text:
        lines = [notebook_markdown(text)]
    elif required:
        lines = [f"*The notebook has no {section} section.*"]
    else:
        lines = []
    return [*lines, *_answer_lines(record, section)]


def _answer_lines(record: LabRecord, section: str) -> list[str]:
    return [line for answer in record.answers.get(section, ()) for line in _answer(answer)]


def _answer(answer: Answer) -> list[str]:
    """The student's answer, quoted: a quote holds whatever Markdown it contains (an
    unclosed code fence ends with the quote), so it cannot disturb the report around it."""
    if not answer.written:
        return [f"**{answer.title}** (the student's own words): *{NOT_WRITTEN}*"]
    quoted = "\n".join(f"> {line}" if line.strip() else ">" for line in _contained(answer.text))
    return [f"**{answer.title}** (the student's own words):", quoted]


def notebook_markdown(text: str) -> str:
    """Markdown from the notebook, fit to sit inside a report section."""
    return "\n".join(_contained(text))


def _contained(text: str) -> list[str]:
    """The lines of ``text`` with its headings no higher than level 3 (a report section is
    level 2) and a code fence it leaves open closed at its end; code is left as it is."""
    lines, fence = [], None
    for line in text.splitlines():
        if fence is None:
            opening = _FENCE.match(line)
            heading = None if opening else _HEADING.match(line)
            fence = opening.group(1) if opening else None
            lines.append(f"### {heading.group(2)}" if heading else line)
        else:
            stripped = line.strip()
            if set(stripped) == {fence[0]} and len(stripped) >= len(fence):
                fence = None
            lines.append(line)
    if fence is not None:
        lines.append(fence)
    return lines


def _errors_notice(errors: Sequence[CellError]) -> list[str]:
    if not errors:
        return []
    cells = "1 cell" if len(errors) == 1 else f"{len(errors)} cells"
    return [
        f"> **Not every cell ran.** In the run this report comes from, {cells} of the notebook "
        f"stopped with an error or did not run (marked under PROGRAM); the figures show what "
        f"the notebook had made by its end."
    ]


def _program_lines(record: LabRecord, errors: Sequence[CellError] = ()) -> list[str]:
    if not record.program:
        return ["*The notebook has no code.*"]
    lines = [
        "The notebook's code, cell by cell, in the order it ran. The cells marked "
        "**Your code** are the student's; the others were given with the lab."
        + (
            f" The {record.checks_left_out} check cells are the grader's and are left out."
            if record.checks_left_out
            else ""
        )
    ]
    error_of = {error.number: error for error in errors}
    step = None
    for cell in record.program:
        if cell.step and cell.step != step:
            step = cell.step
            lines.append(f"### {escape_markdown(step)}")
        label = "**Your code**" if cell.students else "Given code"
        lines.append(f"{label} (cell {cell.number}):")
        code = "\n".join(line for line in cell.source.splitlines() if not _MARKER.match(line))
        lines.append(_fenced(code, "python student" if cell.students else "python"))
        if cell.number in error_of:
            error = error_of.pop(cell.number)
            what = "did not run" if error.kind == "skipped" else "stopped with an error"
            lines.append(f"**This cell {what}:** {_code(_one_line(error.message))}")
    if error_of:  # the check cells, left out above
        lines.append("### Checks that did not pass")
        lines.append(
            "\n".join(
                f"- {escape_markdown(error.where)}: {_code(_one_line(error.message))}"
                for error in error_of.values()
            )
        )
    return lines


def _fenced(code: str, info: str) -> str:
    """A fenced code block that holds ``code`` literally, whatever backticks it contains."""
    longest = max((len(run) for run in re.findall(r"`{3,}", code)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}{info}\n{code.rstrip()}\n{fence}"


def _model_lines(model: ModelResult, links: Mapping[str, str], prefix: str) -> list[str]:
    lines = [_image(f"{model.title} diagram", links, prefix + "model_diagram")]
    lines.append(_layer_table(model.layers))
    lines.append(f"Total parameters: **{model.param_count:,}**.")
    return [line for line in lines if line]


def _layer_table(layers: Sequence[LayerInfo]) -> str:
    rows = [
        [
            str(index),
            _cell_code(layer.name),
            escape_markdown(layer.kind),
            escape_markdown(layer.detail),
            _cell_code(_shape(layer.output_shape)),
            f"{layer.params:,}",
        ]
        for index, layer in enumerate(layers, start=1)
    ]
    headers = ["#", "Layer", "Type", "Detail", "Output shape", "Params"]
    return _table(headers, rows, right_aligned={0, 5})


def _output_lines(content: ReportContent, links: Mapping[str, str]) -> list[str]:
    model = content.model
    lines = [
        "### Training Loss, Validation Loss Vs Iteration Plot",
        _image("Training and validation loss per epoch", links, "loss_curve"),
        _image("Training and validation accuracy per epoch", links, "accuracy_curve"),
        _history_table(model.history),
        _evaluation(model),
        "### Classification Report",
        _classification_table(content.classification_report),
        "### Confusion Matrix",
        _image("Confusion matrix", links, "confusion_matrix"),
        "Rows are the true digits, columns the predicted ones; counts off the diagonal "
        "are mistakes.",
        "### Test set predictions",
        _image("Test set predictions", links, "test_predictions"),
        _test_prediction_summary(content),
        "### New Sample Data Prediction",
        *_scan_lines(content.scans, links),
    ]
    for answer in content.record.answers.get("OUTPUT", ()):
        lines += [f"### {answer.title}", *_answer(answer)]
    if content.improved is not None:
        lines += _improved_lines(content.improved, model, links)
    return [line for line in lines if line]


def _history_table(history: Mapping[str, Sequence[float]]) -> str:
    keys = [key for key in ("accuracy", "val_accuracy", "loss", "val_loss") if history.get(key)]
    if not keys:
        return "No training history was exported, so there are no per-epoch metrics to show."
    epochs = max(len(history[key]) for key in keys)
    rows = [
        [str(epoch + 1)]
        + [_decimal(history[key][epoch]) if epoch < len(history[key]) else "" for key in keys]
        for epoch in range(epochs)
    ]
    return _table(["Epoch", *keys], rows, right_aligned=set(range(len(keys) + 1)))


def _evaluation(model: ModelResult) -> str:
    text = (
        f"Test accuracy **{_decimal(model.test_accuracy)}** "
        f"({_percent(model.test_accuracy)}), test loss {_decimal(model.test_loss)}."
    )
    if model.training_seconds is not None:
        text += f" Training took {model.training_seconds:.0f} s."
    return text


def _classification_table(report: Mapping) -> str:
    frame = classification_report_frame(report)
    rows = [
        [escape_markdown(row["class"])]
        + [_decimal(row[column]) for column in ("precision", "recall", "f1-score")]
        + [f"{int(row['support']):,}"]
        for row in frame.to_dict("records")
    ]
    return _table(CSV_COLUMNS, rows, right_aligned={1, 2, 3, 4})


def _test_prediction_summary(content: ReportContent) -> str:
    wrong = int((content.y_true != content.y_pred).sum())
    return (
        f"{wrong:,} of the {len(content.y_true):,} test images were misclassified. The grid "
        "shows the first test images together with some of the misclassified ones, which are "
        "framed in red."
    )


def _scan_lines(scans: Sequence[ScanPrediction], links: Mapping[str, str]) -> list[str]:
    if not scans:
        return ["No scanned handwritten digits were supplied, so none were predicted."]
    rows = [
        [
            str(index),
            _cell_code(scan.path.name),
            "?" if scan.label is None else str(scan.label),
            str(scan.predicted),
            f"{scan.confidence:.1%}",
            {True: "correct", False: "**wrong**", None: "label unknown"}[scan.correct],
        ]
        for index, scan in enumerate(scans, start=1)
    ]
    headers = ["#", "File", "Label", "Predicted", "Confidence", "Result"]
    labelled = [scan for scan in scans if scan.label is not None]
    right = sum(bool(scan.correct) for scan in labelled)
    summary = (
        f"{right} of {len(labelled)} scanned digits with a known label were classified "
        f"correctly ({_percent(right / len(labelled))})."
        if labelled
        else "The true labels of the scanned digits are unknown."
    )
    return [
        _image("Scanned digits and the model's predictions", links, "scanned_digits"),
        "Each scanned image is shown as photographed beside the 28x28 view the model saw.",
        _table(headers, rows, right_aligned={0, 2, 3, 4}),
        summary,
    ]


def _improved_lines(
    improved: ModelResult, baseline: ModelResult, links: Mapping[str, str]
) -> list[str]:
    gain = (improved.test_accuracy - baseline.test_accuracy) * 100
    return [
        "### Improved model",
        f"{escape_markdown(improved.title)}: test accuracy **{_decimal(improved.test_accuracy)}**"
        f" ({_percent(improved.test_accuracy)}, {gain:+.2f} percentage points against the lab "
        f"model), {improved.param_count:,} parameters "
        f"(lab model: {baseline.param_count:,}).",
        *_model_lines(improved, links, "improved_"),
        _image("Improved model: loss per epoch", links, "improved_loss_curve"),
        _image("Improved model: accuracy per epoch", links, "improved_accuracy_curve"),
        _history_table(improved.history),
        _evaluation(improved),
    ]


def _image(alt: str, links: Mapping[str, str], name: str) -> str:
    if name not in links:
        logger.debug("Figure %r was not drawn; the report leaves it out.", name)
        return ""
    return f"![{escape_markdown(alt)}]({links[name]})"  # links are the kit's own file names


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, right_aligned=()) -> str:
    rule = ["---:" if index in right_aligned else "---" for index in range(len(headers))]
    lines = [headers, rule, *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def _code(text: str) -> str:
    """An inline code span that holds `text` literally, whatever backticks it contains."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {text} {fence}" if longest else f"{fence}{text}{fence}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cell_code(text: str) -> str:
    """A code span inside a table cell, where "|" would end the cell unless escaped."""
    return _code(" ".join(text.split())).replace("|", "\\|")


def _shape(shape: Sequence[int | None]) -> str:
    return "?" if not shape else "(" + ", ".join(str(dim) for dim in shape) + ")"


def _decimal(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.4f}"


def _percent(fraction: float) -> str:
    return f"{fraction:.2%}"


def _into(figure_dir: Path, path: Path) -> Path:
    """`path`, copied into `figure_dir` when it lies elsewhere."""
    if path.parent.resolve() == figure_dir.resolve():
        return path
    target = figure_dir / path.name
    shutil.copyfile(path, target)
    return target
