"""write_pdf: the lab report as an A4 PDF drawn from its own Markdown, read back with pypdf.

Positions are checked from the page's content stream: every text string's extent (from the
embedded fonts' glyph widths) and every image's placement must lie inside the margins.
"""

from __future__ import annotations

import re
import socket
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
from pypdf import PdfReader
from pypdf.generic import ArrayObject, ContentStream

from mnist_lab.report import pdf as pdf_module
from mnist_lab.report.pdf import write_pdf

TITLE = "Convolutional Deep Neural Network for Digit Classification"
CREATED = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
MM = 72 / 25.4  # points per millimetre
A4 = (210 * MM, 297 * MM)
SIDE = pdf_module.MARGIN_X * MM
TOP = pdf_module.MARGIN_TOP * MM
BOTTOM = pdf_module.MARGIN_BOTTOM * MM
SLACK = 0.5  # points: rounding in the content stream
IMAGE_LINK = re.compile(r"!\[[^\]]*\]\(([^)]+)\)")
HEADING = re.compile(r"^#{1,6} +(.+?) *#* *$", re.MULTILINE)
LONG_LINE = (
    "model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001), "
    + ", ".join(f"argument_{index}='value_{index}'" for index in range(12))
    + ', loss="categorical_crossentropy", metrics=["accuracy"])  # '
    + "x" * 40
)
UNBREAKABLE = "averyveryverylongunbreakablewordthatneverends"


@dataclass(frozen=True)
class Rendered:
    path: Path
    reader: PdfReader
    markdown: str
    images: dict[str, Path]

    @property
    def pages(self) -> list[str]:
        return [page.extract_text() for page in self.reader.pages]


def _figures(out_dir: Path) -> dict[str, Path]:
    return {f"figures/{path.name}": path for path in (out_dir / "figures").glob("*.png")}


def _render(
    markdown: str,
    out: Path,
    images: dict[str, Path],
    *,
    name: str = "Jane Doe",
    register: str = "212223240001",
) -> Rendered:
    path = write_pdf(
        markdown,
        images,
        out,
        title=TITLE,
        student_name=name,
        register_number=register,
        created=CREATED,
    )
    assert path == out
    return Rendered(path, PdfReader(path), markdown, images)


def _program_markdown(markdown: str) -> str:
    """The report with a PROGRAM of 30 notebook cells, some with long lines, and a quote."""
    cells = []
    for number in range(30):
        label = "**Your code**" if number % 3 == 0 else "Given code"
        lines = [f"# cell {number}", "import numpy as np", "from tensorflow import keras"]
        if number % 4 == 1:
            lines.append(LONG_LINE)
        if number % 5 == 2:
            lines.append("\tx = '" + "abcdefghij" * 30 + "'")
        cells.append(f"{label} (cell {number + 3})\n\n```python\n" + "\n".join(lines) + "\n```")
    quote = "> **Answer:** the model overfits a little after epoch 3; I would add `Dropout`."
    program = "\n\n".join([*cells, quote])
    replaced, count = re.subn(
        r"(## PROGRAM\n\n).*?(\n\n## )", lambda m: m[1] + program + m[2], markdown, flags=re.S
    )
    assert count == 1
    return replaced


@pytest.fixture(scope="module")
def report(written_report, tmp_path_factory) -> Rendered:
    _, out_dir, written = written_report
    markdown = written["report.md"].read_text(encoding="utf-8")
    folder = tmp_path_factory.mktemp("pdf")
    return _render(markdown, folder / "report.pdf", _figures(out_dir))


@pytest.fixture(scope="module")
def program_report(written_report, tmp_path_factory) -> Rendered:
    _, out_dir, written = written_report
    markdown = _program_markdown(written["report.md"].read_text(encoding="utf-8"))
    folder = tmp_path_factory.mktemp("pdf-program")
    return _render(markdown, folder / "report.pdf", _figures(out_dir))


# Reading positions back ----------------------------------------------------------------------


def _glyph_widths(font) -> tuple[dict[int, float], float]:
    """A Type0 font's glyph widths (per 1000 em) by CID, and its default width."""
    descendant = font.get_object()["/DescendantFonts"][0].get_object()
    widths: dict[int, float] = {}
    items = [item.get_object() for item in descendant.get("/W", [])]
    index = 0
    while index < len(items):
        first, following = int(items[index]), items[index + 1]
        if isinstance(following, ArrayObject):
            for offset, width in enumerate(following):
                widths[first + offset] = float(width)
            index += 2
        else:
            for cid in range(first, int(following) + 1):
                widths[cid] = float(items[index + 2])
            index += 3
    return widths, float(descendant.get("/DW", 1000))


def _text_extents(reader: PdfReader, page) -> list[tuple[float, float, float]]:
    """(left, right, baseline) in points of every string the page shows."""
    fonts = {name: _glyph_widths(font) for name, font in page["/Resources"]["/Font"].items()}
    extents = []
    widths, default, size = {}, 1000.0, 0.0
    x = y = line_x = line_y = 0.0
    char_spacing, scale = 0.0, 1.0
    for operands, operator in ContentStream(page.get_contents(), reader).operations:
        if operator == b"BT":
            x = y = line_x = line_y = 0.0
        elif operator == b"Tf":
            widths, default = fonts[operands[0]]
            size = float(operands[1])
        elif operator == b"Tc":
            char_spacing = float(operands[0])
        elif operator == b"Tz":
            scale = float(operands[0]) / 100
        elif operator in (b"Td", b"TD"):
            line_x += float(operands[0])
            line_y += float(operands[1])
            x, y = line_x, line_y
        elif operator == b"Tm":
            line_x, line_y = float(operands[4]), float(operands[5])
            x, y = line_x, line_y
        elif operator in (b"Tj", b"TJ"):
            parts = operands[0] if operator == b"TJ" else [operands[0]]
            start = x
            for part in parts:
                if isinstance(part, (int, float)) or hasattr(part, "as_numeric"):
                    x -= float(part) / 1000 * size * scale
                    continue
                data = bytes(getattr(part, "original_bytes", part))
                cids = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
                advance = sum(widths.get(cid, default) for cid in cids) / 1000 * size
                x += (advance + char_spacing * len(cids)) * scale
            extents.append((start, x, y))
    return extents


def _image_boxes(reader: PdfReader, page) -> list[tuple[float, float, float, float]]:
    """(left, bottom, right, top) in points of every image the page draws."""
    xobjects = page["/Resources"].get("/XObject", {})
    boxes = []
    matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    stack = []
    for operands, operator in ContentStream(page.get_contents(), reader).operations:
        if operator == b"q":
            stack.append(matrix)
        elif operator == b"Q":
            matrix = stack.pop()
        elif operator == b"cm":
            a, b, c, d, e, f = (float(value) for value in operands)
            m = matrix
            matrix = (
                a * m[0] + b * m[2],
                a * m[1] + b * m[3],
                c * m[0] + d * m[2],
                c * m[1] + d * m[3],
                e * m[0] + f * m[2] + m[4],
                e * m[1] + f * m[3] + m[5],
            )
        elif operator == b"Do" and xobjects[operands[0]].get_object()["/Subtype"] == "/Image":
            a, _, _, d, e, f = matrix
            boxes.append((e, f, e + a, f + d))
    return boxes


def _assert_text_inside_margins(rendered: Rendered) -> int:
    count = 0
    for number, page in enumerate(rendered.reader.pages, start=1):
        for left, right, baseline in _text_extents(rendered.reader, page):
            where = f"page {number}: text from {left:.1f} to {right:.1f} at {baseline:.1f} pt"
            assert left >= SIDE - SLACK, where
            assert right <= A4[0] - SIDE + SLACK, where
            assert 5 * MM <= baseline <= A4[1] - 5 * MM, where
            count += 1
    return count


def _body_lines(page_text: str) -> list[str]:
    """A page's text without its header (first line) and footer (last line)."""
    return page_text.splitlines()[1:-1]


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


# The report ----------------------------------------------------------------------------------


def test_every_page_is_a4_with_the_student_header_and_page_footer(report):
    pages = report.pages
    assert len(pages) >= 4
    for number, (page, text) in enumerate(zip(report.reader.pages, pages, strict=True), start=1):
        assert float(page.mediabox.width) == pytest.approx(A4[0], abs=0.5)
        assert float(page.mediabox.height) == pytest.approx(A4[1], abs=0.5)
        lines = text.splitlines()
        assert "Jane Doe" in lines[0] and "212223240001" in lines[0], lines[0]
        assert lines[-1].strip() == f"Page {number} of {len(pages)}", lines[-1]


def test_every_heading_in_markdown_order(report):
    headings = [re.sub(r"\\(.)", r"\1", heading) for heading in HEADING.findall(report.markdown)]
    assert headings[0] == TITLE
    assert {"AIM", "THEORY", "PROGRAM", "OUTPUT", "RESULT"} <= set(headings)
    body = " ".join(" ".join(_body_lines(text)) for text in report.pages)
    body = " ".join(body.split())
    position = 0
    for heading in headings:
        found = body.find(heading, position)
        assert found >= 0, f"{heading!r} missing or out of order"
        position = found + len(heading)


def test_measured_numbers_and_table_cells_read_back(report, written_report):
    content, _, _ = written_report
    text = "\n".join(report.pages)
    assert f"{content.model.test_accuracy:.2%}" in text  # 98.16%
    assert f"{content.model.test_accuracy:.4f}" in text
    for cell in ("max_pooling2d", "MaxPooling2D", "(None, 26, 26, 32)", "173,088", "1_gray.png"):
        assert cell in text, cell
    assert "weighted avg" in text  # the classification report's last row


def test_every_figure_is_embedded_inside_the_margins(report):
    links = IMAGE_LINK.findall(report.markdown)
    assert len(links) >= 5
    assert set(links) <= set(report.images)
    boxes = [
        (number, box)
        for number, page in enumerate(report.reader.pages, start=1)
        for box in _image_boxes(report.reader, page)
    ]
    assert len(boxes) == len(links)  # each figure drawn once, none left out
    for number, (left, bottom, right, top) in boxes:
        where = f"page {number}: image at {left:.1f},{bottom:.1f} to {right:.1f},{top:.1f} pt"
        assert left >= SIDE - SLACK and right <= A4[0] - SIDE + SLACK, where
        assert bottom >= BOTTOM - SLACK and top <= A4[1] - TOP + SLACK, where
        assert right - left > 40 * MM, where  # drawn at a readable size


def test_report_text_lies_inside_the_margins(report):
    assert _assert_text_inside_margins(report) > 100


def test_metadata_and_no_absolute_paths(report, written_report):
    _, out_dir, _ = written_report
    metadata = report.reader.metadata
    assert metadata.title == TITLE
    assert metadata.author == "Jane Doe"
    assert metadata.creation_date == CREATED
    data = report.path.read_bytes()
    text = "\n".join(report.pages)
    folders = {out_dir.resolve(), report.path.parent.resolve(), Path.home(), Path.cwd()}
    folders |= {Path(pdf_module.matplotlib.get_data_path()).resolve()}
    for folder in folders:
        for form in {str(folder), folder.as_posix()}:
            assert form.encode() not in data, form
            assert form not in text, form
            assert all(form not in str(value) for value in metadata.values()), form
    assert b"/tmp/" not in data


def test_headings_and_labels_never_end_a_page(report, program_report):
    checked = 0
    for rendered in (report, program_report):
        headings = {" ".join(h.split()) for h in HEADING.findall(rendered.markdown)}
        pages = list(zip(rendered.reader.pages, rendered.pages, strict=True))[:-1]
        for number, (page, text) in enumerate(pages, start=1):
            lowest_text = min(
                baseline
                for _, _, baseline in _text_extents(rendered.reader, page)
                if baseline > BOTTOM
            )
            images = _image_boxes(rendered.reader, page)
            if images and min(bottom for _, bottom, _, _ in images) < lowest_text:
                continue  # the page ends with a figure
            last = " ".join(_body_lines(text)[-1].split())
            assert last not in headings, f"page {number} ends with the heading {last!r}"
            assert not re.fullmatch(r"(Your|Given) code.*\(cell \d+\):?", last), (number, last)
            checked += 1
    assert checked >= 8


# Code ----------------------------------------------------------------------------------------


def test_long_code_lines_wrap_without_losing_anything(program_report):
    text = "\n".join(program_report.pages)
    squeezed = _squeeze(text)
    assert squeezed.count(_squeeze(LONG_LINE)) == 8  # the cells that hold it
    assert squeezed.count("x='" + "abcdefghij" * 30 + "'") == 6
    assert LONG_LINE not in text  # it was wrapped: no line holds it whole
    assert "Dropout" in text and "Answer:" in text  # the quote after the code
    assert len(program_report.pages) > 8


def test_code_text_lies_inside_the_margins(program_report):
    assert _assert_text_inside_margins(program_report) > 300


# Tables --------------------------------------------------------------------------------------


def test_wide_table_fits_the_text_width(tmp_path):
    headers = [f"column {index}" for index in range(12)]
    cells = [
        f"{UNBREAKABLE}-{index}-end" if index % 2 else f"long cell text number {index} with words"
        for index in range(12)
    ]
    markdown = "\n".join(
        [
            "# Wide",
            "",
            "| " + " | ".join(headers) + " |",
            "|" + "---|" * 12,
            "| " + " | ".join(cells) + " |",
            "| " + " | ".join(f"`{cell}`" for cell in cells) + " |",
            "",
        ]
    )
    rendered = _render(markdown, tmp_path / "wide.pdf", {})
    assert _assert_text_inside_margins(rendered) > 12
    squeezed = _squeeze("\n".join(rendered.pages))
    for cell in cells:
        assert squeezed.count(_squeeze(cell)) == 2, cell
    assert all(_squeeze(header) in squeezed for header in headers)


def test_column_widths_share_out_the_text_width():
    assert pdf_module._fair_share([15.0, 80.0] * 6, 176) == pytest.approx(
        [15.0, 14.333333] * 6, rel=1e-5
    )
    assert pdf_module._fair_share([30.0] * 12, 176) == pytest.approx([176 / 12] * 12)
    assert sum(pdf_module._fair_share([5.0, 5.0, 300.0], 100)) == pytest.approx(100)


# Student text --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reads_back"),
    [
        ("Łukasz Żółć", True),
        ("José Ñúñez", True),
        ("Αλέξανδρος Παπαδόπουλος", True),
        ("தமிழ்செல்வன் முருகன்", False),
        ("Ada 😀 Lovelace 🚀", False),
        ("Jane\x00Doe\x07 \u200bé\u0301", False),
    ],
    ids=["polish", "spanish", "greek", "tamil", "emoji", "control-characters"],
)
def test_names_in_any_script(written_report, tmp_path, name, reads_back):
    _, _, written = written_report
    markdown = written["report.md"].read_text(encoding="utf-8").replace("Jane Doe", name)
    markdown += f"\n\n> {name} wrote this: ünïcödé, ελληνικά, தமிழ், 😀, ✓.\n"
    rendered = _render(markdown, tmp_path / "report.pdf", {}, name=name)
    pages = rendered.pages
    assert len(pages) >= 3
    assert all(f"Page {n} of {len(pages)}" in text for n, text in enumerate(pages, start=1))
    assert all("212223240001" in text.splitlines()[0] for text in pages)
    if reads_back:
        assert all(name in text.splitlines()[0] for text in pages)
        assert rendered.reader.metadata.author == name
        assert "ελληνικά" in pages[-1]


def test_characters_no_font_has_become_question_marks(tmp_path, monkeypatch):
    monkeypatch.setattr(pdf_module, "_LAST_RESORT_FILE", "no-such-font.ttf")
    markdown = "# Τίτλος\n\nதம and 中文字 here; `code 中`\n\n```\nprint('中')\n```\n"
    rendered = _render(markdown, tmp_path / "q.pdf", {}, name="தம 中")
    text = rendered.pages[0]
    assert "Τίτλος" in text
    assert "?? and ??? here; code ?" in text
    assert "print('?')" in text
    assert text.splitlines()[0].startswith("?? ? · 212223240001")


def test_raw_html_lists_quotes_and_rules_are_drawn_as_text(tmp_path):
    markdown = (
        "# Answers\n\n"
        "<script>alert(1)</script>\n\n"
        "> quoted *answer* with <b>tags</b>\n>\n> > nested quote\n\n"
        "9. ninth\n10. tenth\n    - inner bullet\n      1. deepest\n\n"
        "---\n\n"
        "Line one  \nline two with [a link](http://example.com/x) and `code`.\n"
    )
    rendered = _render(markdown, tmp_path / "html.pdf", {})
    text = rendered.pages[0]
    lines = [_squeeze(line) for line in text.splitlines()]
    for expected in (
        "<script>alert(1)</script>",
        "quoted answer with <b>tags</b>",
        "nested quote",
        "9. ninth",
        "10. tenth",
        "◦ inner bullet",
        "1. deepest",
        "Line one",  # the hard break ends the line
        "line two with a link and code.",
    ):
        assert _squeeze(expected) in lines, expected
    assert "http://example.com" not in text  # links show their text only
    assert _assert_text_inside_margins(rendered) > 5


def test_unknown_image_links_are_never_fetched(tmp_path, monkeypatch, written_report):
    _, out_dir, _ = written_report
    opened: list[object] = []

    def refuse(*args, **kwargs):
        opened.append(args)
        raise AssertionError("the PDF writer tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    drawn: list[object] = []
    original_image = pdf_module.FPDF.image

    def spy(self, name, *args, **kwargs):
        drawn.append(name)
        return original_image(self, name, *args, **kwargs)

    monkeypatch.setattr(pdf_module.FPDF, "image", spy)
    real_figure = out_dir / "figures" / "loss_curve.png"
    markdown = (
        "# Figures\n\n"
        "![remote figure alt](http://example.com/a.png)\n\n"
        "![password file alt](/etc/passwd)\n\n"
        f"![absolute figure alt]({real_figure.as_posix()})\n\n"
        "![relative figure alt](figures/not_drawn.png)\n\n"
        "Inline ![inline alt](figures/loss_curve.png) in text.\n\n"
        "![the real one](figures/loss_curve.png)\n"
    )
    images = {"figures/loss_curve.png": real_figure}
    rendered = _render(markdown, tmp_path / "images.pdf", images)
    text = "\n".join(rendered.pages)
    for alt in ("remote figure alt", "password file alt", "absolute figure alt"):
        assert f"[{alt}]" in text, alt
    assert "[relative figure alt]" in text
    assert "[inline alt]" in text
    assert opened == []
    assert len(drawn) == 1  # only the figure in `images`, as a paragraph of its own
    boxes = [box for page in rendered.reader.pages for box in _image_boxes(rendered.reader, page)]
    assert len(boxes) == 1


# Writing the file ----------------------------------------------------------------------------


def test_output_is_deterministic_and_written_atomically(written_report, tmp_path, monkeypatch):
    _, out_dir, written = written_report
    markdown = written["report.md"].read_text(encoding="utf-8")
    first = _render(markdown, tmp_path / "a" / "report.pdf", _figures(out_dir))
    second = _render(markdown, tmp_path / "b" / "report.pdf", _figures(out_dir))
    assert first.path.read_bytes() == second.path.read_bytes()
    assert [path.name for path in first.path.parent.iterdir()] == ["report.pdf"]
    plain = tmp_path / "plain-file"
    plain.write_bytes(b"")  # the permissions any new file gets here
    assert first.path.stat().st_mode == plain.stat().st_mode

    def crash(self, *args, **kwargs):
        raise RuntimeError("crashed while drawing")

    before = first.path.read_bytes()
    monkeypatch.setattr(pdf_module._Document, "render", crash)
    with pytest.raises(RuntimeError, match="crashed while drawing"):
        _render(markdown, first.path, _figures(out_dir))
    assert first.path.read_bytes() == before
    assert [path.name for path in first.path.parent.iterdir()] == ["report.pdf"]

    monkeypatch.undo()

    def refuse_rename(source, target):
        raise OSError("rename refused")

    monkeypatch.setattr(pdf_module.os, "replace", refuse_rename)
    with pytest.raises(OSError, match="rename refused"):
        _render(markdown, first.path, _figures(out_dir))
    assert first.path.read_bytes() == before
    assert [path.name for path in first.path.parent.iterdir()] == ["report.pdf"]


def test_creation_date_defaults_to_source_date_epoch(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    path = write_pdf(
        "# T\n", {}, tmp_path / "t.pdf", title="T", student_name="S", register_number="1"
    )
    created = PdfReader(path).metadata.creation_date
    assert created == datetime.fromtimestamp(1700000000, tz=timezone.utc)
