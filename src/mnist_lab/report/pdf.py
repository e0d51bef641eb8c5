"""The lab report as an A4 PDF, drawn with fpdf2 from the report's own Markdown.

The Markdown is parsed as `document.markdown_to_html` parses it (CommonMark plus GFM tables,
raw HTML disabled, so raw HTML arrives as text) and every block is drawn here: headings,
paragraphs with strong, emphasis, code and link text, lists, tables fitted to the text width,
figures scaled to fit the page, code blocks wrapped inside a shaded box, block quotes and
rules. Every page carries a header with the student's name and register number and a footer
"Page N of M".

Student text reaches the Markdown, so nothing named in it is ever opened: an image is drawn
only when its link is a key of `images` (the kit's own figures), any other image shows its
alt text. Text is set in the DejaVu fonts that ship with matplotlib; characters they lack are
drawn with matplotlib's Last Resort font (a placeholder glyph that still reads back as the
character) where it is available, else replaced by "?".
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import math
import os
import re
import secrets
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import matplotlib
from fpdf import FPDF, FontFace
from fpdf.enums import Align, TableCellFillMode, XPos, YPos
from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode
from PIL import Image, UnidentifiedImageError

logger = logging.getLogger(__name__)

# Page geometry, in millimetres.
MARGIN_X = 17.0
MARGIN_TOP = 20.0
MARGIN_BOTTOM = 17.0
HEADER_Y = 9.0
FOOTER_FROM_BOTTOM = 11.0
FIGURE_MAX_HEIGHT = 125.0
INDENT_STEP = 6.0
MIN_TEXT_WIDTH = 60.0  # nesting stops indenting once the text would get narrower than this

# Type, in points, and line heights, in millimetres.
BODY_SIZE = 10.0
BODY_LINE = 5.0
CODE_SIZE = 8.5
CODE_LINE = 3.9
CODE_PAD = 1.6
CODE_INSET = 2.8  # from the code box's left edge to its text
TABLE_SIZE = 8.5
TABLE_PAD = 1.2
HEADER_SIZE = 8.0
HEADINGS = {  # level: (size, space before, space after)
    1: (17.0, 2.0, 4.0),
    2: (13.5, 6.0, 3.0),
    3: (11.5, 4.5, 2.0),
    4: (10.5, 3.5, 1.5),
}
KEEP_WITH_NEXT = 30.0  # a heading or label stays with up to this much of what follows
KEEP_CODE = 60.0  # so is a code block up to this tall
KEEP_TABLE = 110.0  # a table up to this tall is not split over pages when it fits on one

TEXT_COLOR = (33, 33, 33)
MUTED_COLOR = (100, 100, 100)
QUOTE_COLOR = (70, 70, 70)
HEADING_COLOR = (27, 79, 114)
CODE_COLOR = (140, 30, 30)
CODE_FILL = (244, 244, 244)
CODE_RULE = (160, 180, 200)
RULE_COLOR = (200, 200, 200)
TABLE_HEAD_FILL = (234, 242, 248)
TABLE_ZEBRA_FILL = (248, 249, 249)
TABLE_BORDER = (190, 190, 190)

SANS = "dejavu"
MONO = "dejavumono"
LAST_RESORT = "lastresort"
_FONT_FILES = {
    (SANS, ""): "DejaVuSans.ttf",
    (SANS, "B"): "DejaVuSans-Bold.ttf",
    (SANS, "I"): "DejaVuSans-Oblique.ttf",
    (SANS, "BI"): "DejaVuSans-BoldOblique.ttf",
    (MONO, ""): "DejaVuSansMono.ttf",
    (MONO, "B"): "DejaVuSansMono-Bold.ttf",
    (MONO, "I"): "DejaVuSansMono-Oblique.ttf",
    (MONO, "BI"): "DejaVuSansMono-BoldOblique.ttf",
}
_LAST_RESORT_FILE = "LastResortHE-Regular.ttf"
# The total page count's placeholder: it holds a control character, which body text never
# keeps (see `_Fonts.clean`), so no student text can ever be taken for it.
_PAGES_ALIAS = "{\x00}"
_BULLETS = ("•", "◦", "▪")
_CODE_BREAK_AFTER = frozenset(" ,;([{")


def write_pdf(
    markdown: str,
    images: Mapping[str, Path],
    out: Path,
    *,
    title: str,
    student_name: str,
    register_number: str,
    created: datetime | None = None,
) -> Path:
    """Draw the report's `markdown` as an A4 PDF at `out` and return `out`.

    `images` maps image links of the Markdown to PNG files; an image whose link is not a key
    is never opened and shows its alt text instead. `title` and `student_name` become the
    PDF's title and author; the name and `register_number` head every page. The creation
    date is `created`, else $SOURCE_DATE_EPOCH when set, else now. The file is written under
    a temporary name in the same folder and then renamed, so `out` is never half-written.
    """
    out = Path(out)
    document = _Document(
        images,
        title=title,
        student_name=student_name,
        register_number=register_number,
    )
    data = document.render(markdown, created or _default_creation_date())
    _write_atomically(out, data)
    logger.debug("Wrote the PDF report to %s (%d pages)", out, document.pdf.pages_count)
    return out


def _default_creation_date() -> datetime:
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), tz=timezone.utc)
    return datetime.now(timezone.utc).replace(microsecond=0)


def _write_atomically(out: Path, data: bytes) -> None:
    """`data` written to a new file beside `out`, which then replaces `out` in one step. (A
    plain open, not mkstemp, so the file gets the usual permissions rather than 0600.)"""
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temporary, "xb") as stream:
            stream.write(data)
        os.replace(temporary, out)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


_Font = tuple[str, str, float, tuple[int, int, int]]  # family, emphasis, size, colour


@dataclass(frozen=True)
class _Run:
    """A piece of a paragraph: text in a style ("B", "I", "code"), a line break or an image."""

    kind: str  # "text", "break" or "image"
    text: str = ""
    style: frozenset[str] = frozenset()
    src: str = ""


class _Fonts:
    """The DejaVu fonts, a Last Resort fallback for the characters they lack, and the
    cleaning of text down to what these fonts can draw."""

    def __init__(self, pdf: FPDF, needed_text: str):
        folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
        for (family, style), name in _FONT_FILES.items():
            pdf.add_font(family, style, str(folder / name))
        supported = _codepoints(pdf)
        fallbacks = [SANS, MONO]
        missing = sorted(
            {
                ord(char)
                for char in set(needed_text)
                if ord(char) not in supported and _category(char) == "keep"
            }
        )
        last_resort = folder / _LAST_RESORT_FILE
        if missing and last_resort.is_file() and _add_font_takes_unicode_range():
            # The whole Last Resort font maps every code point; loading it takes seconds, so
            # only the characters this document needs are taken from it.
            pdf.add_font(LAST_RESORT, "", str(last_resort), unicode_range=missing)
            fallbacks.append(LAST_RESORT)
        pdf.set_fallback_fonts(fallbacks, exact_match=False)
        self.supported = _codepoints(pdf)

    def clean(self, text: str, *, tab: str = " ") -> str:
        """`text` with only what the fonts can draw: line breaks kept, tabs replaced by
        `tab`, invisible characters the fonts lack dropped, anything else they lack "?"."""
        out = []
        for char in text:
            if char == "\n":
                out.append(char)
            elif char == "\t":
                out.append(tab)
            elif ord(char) in self.supported and _category(char) != "replace":
                out.append(char)
            elif _category(char) != "drop":
                out.append("?")
        return "".join(out)


def _codepoints(pdf: FPDF) -> set[int]:
    return {codepoint for font in pdf.fonts.values() for codepoint in getattr(font, "cmap", {})}


def _category(char: str) -> str:
    """What `_Fonts.clean` does with a character no font has: control characters and lone
    surrogates are "replace"d, invisible formatting and combining marks "drop"ped, anything
    else is to "keep" (and become "?" when no font has it)."""
    category = unicodedata.category(char)
    if category in ("Cc", "Cs"):
        return "replace"
    if category in ("Cf", "Mn", "Me"):
        return "drop"
    return "keep"


def _add_font_takes_unicode_range() -> bool:
    return "unicode_range" in inspect.signature(FPDF.add_font).parameters


class _PDF(FPDF):
    """FPDF with the report's page header and footer, and vertical bars (beside code and
    quotes) that continue over page breaks."""

    header_left = ""
    header_right = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.open_bars: list[_Bar] = []

    def header(self) -> None:
        self.set_font(SANS, "", HEADER_SIZE)
        self.set_text_color(*MUTED_COLOR)
        width = self.w - 2 * MARGIN_X
        left = _fit(self, self.header_left, width * 0.62)
        right = _fit(self, self.header_right, width - self.get_string_width(left) - 8)
        self.set_xy(MARGIN_X, HEADER_Y)
        self.cell(width, 4, left, align=Align.L)
        self.set_xy(MARGIN_X, HEADER_Y)
        self.cell(width, 4, right, align=Align.R)
        self.set_draw_color(*RULE_COLOR)
        self.set_line_width(0.2)
        self.line(MARGIN_X, HEADER_Y + 5, self.w - MARGIN_X, HEADER_Y + 5)
        for bar in self.open_bars:
            bar.top = self.t_margin
        self.set_xy(self.l_margin, self.t_margin)

    def footer(self) -> None:
        for bar in self.open_bars:
            self._draw_bar(bar, self.page_break_trigger)
        self.set_font(SANS, "", HEADER_SIZE)
        self.set_text_color(*MUTED_COLOR)
        self.set_xy(MARGIN_X, self.h - FOOTER_FROM_BOTTOM)
        self.cell(self.w - 2 * MARGIN_X, 4, f"Page {self.page_no()} of {_PAGES_ALIAS}", align="C")

    def open_bar(self, x: float, color: tuple[int, int, int]) -> _Bar:
        bar = _Bar(x, self.y, color)
        self.open_bars.append(bar)
        return bar

    def close_bar(self, bar: _Bar, bottom: float) -> None:
        self.open_bars.remove(bar)
        self._draw_bar(bar, bottom)

    def _draw_bar(self, bar: _Bar, bottom: float) -> None:
        if bottom > bar.top:
            self.set_draw_color(*bar.color)
            self.set_line_width(0.8)
            self.line(bar.x, bar.top, bar.x, bottom)


@dataclass
class _Bar:
    x: float
    top: float
    color: tuple[int, int, int]


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """`text`, cut short with an ellipsis when it is wider than `width`."""
    if pdf.get_string_width(text) <= width:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with the ellipsis
        middle = (low + high + 1) // 2
        if pdf.get_string_width(text[:middle].rstrip() + "…") <= width:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + "…"


class _Document:
    """One PDF being drawn from the report's Markdown."""

    def __init__(
        self,
        images: Mapping[str, Path],
        *,
        title: str,
        student_name: str,
        register_number: str,
    ):
        self.images = dict(images)
        self.title = title
        self.student_name = student_name
        self.register_number = register_number
        self.pdf = _PDF(orientation="P", unit="mm", format="A4")
        self.fonts: _Fonts
        self._outline_level = -1
        self._color = TEXT_COLOR  # of body text: darker grey inside quotes
        self._widths: dict[tuple[str, tuple[str, str, float]], float] = {}

    # The document as a whole ---------------------------------------------------------------

    def render(self, markdown: str, created: datetime) -> bytes:
        parser = MarkdownIt("commonmark", {"html": False}).enable("table")
        tokens = parser.parse(markdown)
        pdf = self.pdf
        needed = "".join(
            [self.title, self.student_name, self.register_number, *_token_texts(tokens)]
        )
        self.fonts = _Fonts(pdf, needed)
        pdf.alias_nb_pages(_PAGES_ALIAS)
        pdf.header_left = self.fonts.clean(
            " · ".join(part for part in (self.student_name, self.register_number) if part)
        )
        pdf.header_right = self.fonts.clean(self.title)
        pdf.set_title(self._meta(self.title))
        pdf.set_author(self._meta(self.student_name))
        pdf.set_creator("mnist-lab")
        pdf.set_lang("en")
        pdf.set_creation_date(created)
        pdf.set_margins(MARGIN_X, MARGIN_TOP, MARGIN_X)
        pdf.set_auto_page_break(True, margin=MARGIN_BOTTOM)
        pdf.c_margin = 0
        pdf.add_page()
        self._blocks(SyntaxTreeNode(tokens).children)
        return bytes(pdf.output())

    def _meta(self, text: str) -> str:
        return "".join(char for char in text if _category(char) != "replace")

    @property
    def _text_width(self) -> float:
        return self.pdf.w - self.pdf.r_margin - self.pdf.l_margin

    @property
    def _room(self) -> float:
        """The height left on this page."""
        return self.pdf.page_break_trigger - self.pdf.y

    @property
    def _at_page_top(self) -> bool:
        return self.pdf.y <= self.pdf.t_margin + 0.5

    def _space(self, height: float) -> None:
        """Vertical space, except at the top of a page (or where it would end the page)."""
        if self._at_page_top:
            return
        if height >= self._room:
            self.pdf.add_page()
            return
        self.pdf.set_y(self.pdf.y + height)

    def _need(self, height: float) -> None:
        """A new page unless `height` still fits on this one (or this page is still empty)."""
        if height > self._room and not self._at_page_top:
            self.pdf.add_page()

    @contextlib.contextmanager
    def _indented(self, step: float) -> Iterator[None]:
        pdf = self.pdf
        before = pdf.l_margin
        if self._text_width - step >= MIN_TEXT_WIDTH:
            pdf.set_left_margin(before + step)
        try:
            yield
        finally:
            pdf.set_left_margin(before)
            pdf.set_x(before)

    # Blocks ----------------------------------------------------------------------------------

    def _blocks(self, nodes: Sequence[SyntaxTreeNode], *, tight: bool = False) -> None:
        for index, node in enumerate(nodes):
            self._block(node, nodes[index + 1 :], tight=tight)

    def _block(self, node: SyntaxTreeNode, rest: Sequence[SyntaxTreeNode], *, tight: bool) -> None:
        """Draw the block `node`; `rest` are the blocks after it (to keep it with them)."""
        kind = node.type
        if kind == "heading":
            self._heading(node, rest)
        elif kind == "paragraph":
            self._paragraph(node, rest, tight=tight or node.hidden)
        elif kind in ("bullet_list", "ordered_list"):
            self._list(node)
        elif kind in ("fence", "code_block"):
            self._code(node.content)
        elif kind == "table":
            self._table(node)
        elif kind == "blockquote":
            self._blockquote(node)
        elif kind == "hr":
            self._rule()
        elif node.children:
            self._blocks(node.children, tight=tight)
        elif node.content:  # anything else with text (raw HTML is disabled, but still)
            self._text_block([_Run("text", node.content)], BODY_SIZE, BODY_LINE)
            self._space(2.5)

    def _heading(self, node: SyntaxTreeNode, rest: Sequence[SyntaxTreeNode]) -> None:
        level = min(int(node.tag[1:]), 4)
        size, before, after = HEADINGS[level]
        runs = self._runs(node)
        color = HEADING_COLOR if level <= 2 else TEXT_COLOR
        self._space(before)
        self._need(self._heading_height(node) - before + self._estimate(rest))
        self._outline(_plain(runs), level)
        self._text_block(runs, size, size * 0.5, base_style={"B"}, color=color)
        if level <= 2:
            y = self.pdf.y + 0.8
            self.pdf.set_draw_color(*(HEADING_COLOR if level == 1 else RULE_COLOR))
            self.pdf.set_line_width(0.6 if level == 1 else 0.3)
            self.pdf.line(self.pdf.l_margin, y, self.pdf.w - self.pdf.r_margin, y)
            self.pdf.set_y(y + 0.7)
        self._space(after)

    def _heading_height(self, node: SyntaxTreeNode) -> float:
        level = min(int(node.tag[1:]), 4)
        size, before, after = HEADINGS[level]
        lines = self._line_count(self._runs(node), size, {"B"})
        return before + lines * size * 0.5 + (1.5 if level <= 2 else 0.0) + after

    def _outline(self, text: str, level: int) -> None:
        """A bookmark for the heading, its level never more than one below the last one's."""
        outline_level = min(level - 1, self._outline_level + 1)
        self._outline_level = outline_level
        name = " ".join(self._meta(text).split())
        if name:
            self.pdf.start_section(name, level=outline_level)

    def _paragraph(
        self, node: SyntaxTreeNode, rest: Sequence[SyntaxTreeNode], *, tight: bool
    ) -> None:
        runs = self._runs(node)
        if runs and all(
            run.kind == "image" or (run.kind == "text" and not run.text.strip()) for run in runs
        ):
            for run in runs:
                if run.kind == "image":
                    self._figure(run.src, run.text)
            return
        if rest and rest[0].type in ("fence", "code_block", "table"):
            # A label such as "Your code (cell 12)" stays with the start of what it labels.
            self._need(self._estimate([node, *rest]))
        self._text_block(runs, BODY_SIZE, BODY_LINE)
        self._space(0.8 if tight else 2.5)

    def _text_block(
        self,
        runs: Sequence[_Run],
        size: float,
        line: float,
        *,
        base_style: set[str] | frozenset[str] = frozenset(),
        color: tuple[int, int, int] | None = None,
    ) -> None:
        """Runs of inline text flowed from the left margin, wrapping at the right one."""
        pdf = self.pdf
        for segments in self._lines(runs, size, base_style, color or self._color):
            if pdf.y + line > pdf.page_break_trigger:
                pdf.add_page()
            x, y = pdf.l_margin, pdf.y
            for text, font in segments:
                family, emphasis, font_size, text_color = font
                pdf.set_font(family, emphasis, font_size)
                pdf.set_text_color(*text_color)
                width = self._width(text, font)
                pdf.set_xy(x, y)
                pdf.cell(width, line, text)
                x += width
            pdf.set_xy(pdf.l_margin, y + line)
        pdf.set_text_color(*self._color)

    def _lines(
        self,
        runs: Sequence[_Run],
        size: float,
        base_style: set[str] | frozenset[str],
        color: tuple[int, int, int],
    ) -> list[list[tuple[str, _Font]]]:
        """The runs broken into lines that fit the text width: each line a list of
        (text, font) segments. Lines break at spaces (a word stays whole across changes of
        style), at hard breaks, and inside a word only when it is wider than a line."""
        items: list[tuple] = []  # ("word", [(text, font)]), ("space", font) or ("break",)
        word: list[tuple[str, _Font]] = []
        for run in runs:
            if run.kind == "break":
                if word:
                    items.append(("word", word))
                    word = []
                items.append(("break",))
                continue
            font = self._font(run, size, base_style, color)
            text = f"[{run.text}]" if run.kind == "image" else run.text
            for chunk in re.findall(r"\s+|\S+", self.fonts.clean(text)):
                if chunk.isspace():
                    if word:
                        items.append(("word", word))
                        word = []
                    items.append(("space", font))
                else:
                    word.append((chunk, font))
        if word:
            items.append(("word", word))

        width = self._text_width
        lines: list[list[tuple[str, _Font]]] = [[]]
        used = 0.0
        space: _Font | None = None
        for item in items:
            if item[0] == "break":
                lines.append([])
                used, space = 0.0, None
            elif item[0] == "space":
                space = item[1] if lines[-1] else None
            else:
                pieces = item[1]
                wide = sum(self._width(text, font) for text, font in pieces)
                gap = self._width(" ", space) if space is not None and lines[-1] else 0.0
                if lines[-1] and used + gap + wide > width:
                    lines.append([])
                    used, gap = 0.0, 0.0
                if gap and space is not None:
                    _append(lines[-1], " ", space)
                    used += gap
                if wide <= width - used:
                    for text, font in pieces:
                        _append(lines[-1], text, font)
                    used += wide
                else:  # a word wider than a line: cut it where the line is full
                    for text, font in pieces:
                        for char in text:
                            advance = self._width(char, font)
                            if lines[-1] and used + advance > width:
                                lines.append([])
                                used = 0.0
                            _append(lines[-1], char, font)
                            used += advance
                space = None
        return [line for index, line in enumerate(lines) if line or index < len(lines) - 1]

    def _font(
        self,
        run: _Run,
        size: float,
        base_style: set[str] | frozenset[str],
        color: tuple[int, int, int],
    ) -> _Font:
        style = set(base_style) | set(run.style) | ({"I"} if run.kind == "image" else set())
        emphasis = ("B" if "B" in style else "") + ("I" if "I" in style else "")
        if "code" in style:
            return (MONO, emphasis, size * 0.92, CODE_COLOR)
        return (SANS, emphasis, size, color)

    def _width(self, text: str, font: _Font) -> float:
        key = (text, font[:3])
        width = self._widths.get(key)
        if width is None:
            self.pdf.set_font(font[0], font[1], font[2])
            width = self._widths[key] = self.pdf.get_string_width(text)
        return width

    def _list(self, node: SyntaxTreeNode, depth: int = 0) -> None:
        pdf = self.pdf
        ordered = node.type == "ordered_list"
        number = int(node.attrs.get("start", 1) or 1) if ordered else 0
        items = [child for child in node.children if child.type == "list_item"]
        tight = all(
            child.hidden for item in items for child in item.children if child.type == "paragraph"
        )
        pdf.set_font(SANS, "", BODY_SIZE)
        last = f"{number + len(items) - 1}."
        step = max(INDENT_STEP, pdf.get_string_width(last) + 2.0) if ordered else INDENT_STEP
        for item in items:
            marker = f"{number}." if ordered else _BULLETS[min(depth, len(_BULLETS) - 1)]
            number += 1
            with self._indented(step):
                # The marker stays with the start of the item's first block.
                self._need(max(BODY_LINE, self._estimate(item.children)))
                pdf.set_font(SANS, "", BODY_SIZE)
                pdf.set_text_color(*self._color)
                width = pdf.get_string_width(marker)
                y = pdf.y
                pdf.set_xy(pdf.l_margin - width - 1.5, y)
                pdf.cell(width, BODY_LINE, marker)
                pdf.set_xy(pdf.l_margin, y)
                for index, child in enumerate(item.children):
                    if child.type in ("bullet_list", "ordered_list"):
                        self._list(child, depth + 1)
                    else:
                        self._block(child, item.children[index + 1 :], tight=tight)
        self._space(0.0 if depth else 1.7)

    def _blockquote(self, node: SyntaxTreeNode) -> None:
        pdf = self.pdf
        self._need(BODY_LINE + 1)
        bar = pdf.open_bar(pdf.l_margin + 1.0, CODE_RULE)
        color, self._color = self._color, QUOTE_COLOR
        with self._indented(5.0):
            self._blocks(node.children)
        self._color = color
        pdf.close_bar(bar, pdf.y - 2.0)
        self._space(1.0)

    def _rule(self) -> None:
        pdf = self.pdf
        self._space(2.0)
        pdf.set_draw_color(*RULE_COLOR)
        pdf.set_line_width(0.4)
        pdf.line(pdf.l_margin, pdf.y, pdf.w - pdf.r_margin, pdf.y)
        self._space(4.0)

    # Code ------------------------------------------------------------------------------------

    def _code(self, source: str) -> None:
        pdf = self.pdf
        pdf.set_font(MONO, "", CODE_SIZE)
        pieces = self._code_pieces(source)
        left = pdf.l_margin
        width = pdf.w - pdf.r_margin - left
        text_x = left + CODE_INSET
        text_width = width - CODE_INSET - 2.0
        self._need(self._code_keep(pieces))
        pdf.set_text_color(*TEXT_COLOR)
        bar = pdf.open_bar(left + 0.4, CODE_RULE)
        self._fill(left, CODE_PAD, width)
        for text, continued in pieces:
            if pdf.y + CODE_LINE > pdf.page_break_trigger:
                pdf.add_page()
            y = pdf.y
            pdf.set_fill_color(*CODE_FILL)
            pdf.rect(left, y, width, CODE_LINE, style="F")
            indent = 0.0
            if continued:
                indent = 2 * pdf.get_string_width(" ")
                self._continuation_mark(text_x, y, indent)
            pdf.set_xy(text_x + indent, y)
            pdf.cell(text_width - indent, CODE_LINE, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self._fill(left, CODE_PAD, width)  # may reach a hair into the bottom margin
        pdf.close_bar(bar, pdf.y)
        pdf.set_x(left)
        self._space(3.0)

    def _code_pieces(self, source: str) -> list[tuple[str, bool]]:
        """The code's lines, wrapped to the code box (the monospace font must be set)."""
        pdf = self.pdf
        lines = self.fonts.clean(source.rstrip("\n"), tab="    ").split("\n")
        text_width = pdf.w - pdf.r_margin - pdf.l_margin - CODE_INSET - 2.0
        return [piece for line in lines for piece in self._wrap_code(line, text_width)]

    @staticmethod
    def _code_keep(pieces: Sequence) -> float:
        """How much of a code block must fit on this page: all of a short one, else the
        first lines."""
        height = 2 * CODE_PAD + len(pieces) * CODE_LINE
        return height if height <= KEEP_CODE else 2 * CODE_PAD + 3 * CODE_LINE

    def _fill(self, x: float, height: float, width: float) -> None:
        pdf = self.pdf
        pdf.set_fill_color(*CODE_FILL)
        pdf.rect(x, pdf.y, width, height, style="F")
        pdf.set_y(pdf.y + height)

    def _continuation_mark(self, x: float, y: float, width: float) -> None:
        """A small hooked arrow that marks a wrapped code line's continuation (drawn, not
        text, so the code reads back unchanged)."""
        pdf = self.pdf
        pdf.set_draw_color(*MUTED_COLOR)
        pdf.set_line_width(0.2)
        middle = y + CODE_LINE / 2
        tip = x + width * 0.8
        pdf.line(x + width * 0.2, y + 0.6, x + width * 0.2, middle)
        pdf.line(x + width * 0.2, middle, tip, middle)
        pdf.line(tip - 0.6, middle - 0.5, tip, middle)
        pdf.line(tip - 0.6, middle + 0.5, tip, middle)

    def _wrap_code(self, line: str, width: float) -> list[tuple[str, bool]]:
        """`line` cut into pieces that fit `width` in the current (monospace) font, the
        first at `width`, the rest two spaces narrower; each piece with whether it continues
        the line. Cuts fall after a space or a comma or bracket when there is one in the last
        third, else at the width."""
        pdf = self.pdf
        ascii_width = pdf.get_string_width("M")
        widths = [ascii_width if ord(char) < 128 else pdf.get_string_width(char) for char in line]
        pieces: list[tuple[str, bool]] = []
        start = 0
        room = width
        while True:
            used = 0.0
            end = start
            while end < len(line) and used + widths[end] <= room + 1e-6:
                used += widths[end]
                end += 1
            if end >= len(line):
                pieces.append((line[start:], bool(pieces)))
                return pieces
            end = max(end, start + 1)  # at least one character per piece
            cut = end
            for position in range(end - 1, start + (end - start) * 2 // 3, -1):
                if line[position] in _CODE_BREAK_AFTER:
                    cut = position + 1
                    break
            pieces.append((line[start:cut], bool(pieces)))
            start = cut
            room = width - 2 * pdf.get_string_width(" ")

    # Figures ---------------------------------------------------------------------------------

    def _figure(self, src: str, alt: str) -> None:
        pdf = self.pdf
        size = self._image_size(src)
        if size is None:
            self._text_block([_Run("image", alt)], BODY_SIZE, BODY_LINE)
            self._space(2.5)
            return
        data, width, height = size
        self._space(1.5)
        self._need(height)
        x = pdf.l_margin + (self._text_width - width) / 2
        pdf.image(io.BytesIO(data), x=x, y=pdf.y, w=width, h=height)
        pdf.set_y(pdf.y + height)
        self._space(3.5)

    def _image_size(self, src: str) -> tuple[bytes, float, float] | None:
        """The image's bytes and drawn width and height (mm), or None when the link is not
        one of the report's images or the file cannot be read as an image."""
        path = self.images.get(src)
        if path is None:
            logger.debug("The report links image %r, which is not one of its figures.", src)
            return None
        try:
            data = Path(path).read_bytes()
            with Image.open(io.BytesIO(data)) as image:
                pixels_wide, pixels_high = image.size
                dpi = image.info.get("dpi", (96, 96))[0] or 96
        except (OSError, ValueError, UnidentifiedImageError) as error:
            logger.warning("Cannot draw figure %s in the PDF: %s", src, error)
            return None
        if pixels_wide <= 0 or pixels_high <= 0:
            return None
        natural = pixels_wide / float(dpi) * 25.4
        max_height = min(FIGURE_MAX_HEIGHT, self.pdf.page_break_trigger - self.pdf.t_margin)
        width = min(self._text_width, natural, max_height * pixels_wide / pixels_high)
        return data, width, width * pixels_high / pixels_wide

    # Tables ----------------------------------------------------------------------------------

    def _table(self, node: SyntaxTreeNode) -> None:
        pdf = self.pdf
        layout = self._table_layout(node)
        if layout is None:
            return
        rows, widths, height = layout
        columns = len(widths)
        aligns = tuple(rows[0][index][2] for index in range(columns))
        line = TABLE_SIZE * 0.45
        self._space(1.0)
        # A short table moves to the next page whole; a long one starts with two rows here.
        self._need(height if height <= KEEP_TABLE else 2 * (line + 2 * TABLE_PAD) + 2)
        pdf.set_font(SANS, "", TABLE_SIZE)
        pdf.set_text_color(*TEXT_COLOR)
        pdf.set_draw_color(*TABLE_BORDER)
        pdf.set_line_width(0.2)
        with pdf.table(
            width=sum(widths),
            col_widths=widths,
            align=Align.L,
            text_align=aligns,
            line_height=line,
            padding=(TABLE_PAD, TABLE_PAD * 1.5),
            headings_style=FontFace(family=SANS, emphasis="BOLD", fill_color=TABLE_HEAD_FILL),
            cell_fill_color=TABLE_ZEBRA_FILL,
            cell_fill_mode=TableCellFillMode.EVEN_ROWS,
            repeat_headings=1,
        ) as table:
            for index, row in enumerate(rows):
                out_row = table.row()
                for text, style, _ in row:
                    out_row.cell(text, style=None if index == 0 else self._cell_face(style))
        pdf.set_x(pdf.l_margin)
        self._space(3.0)

    def _table_layout(
        self, node: SyntaxTreeNode
    ) -> tuple[list[list[tuple[str, frozenset[str], str]]], list[float], float] | None:
        """The table's cells (text, style, alignment) by row, its column widths and about
        how tall it is drawn; None when it has no rows."""
        rows: list[list[tuple[str, frozenset[str], str]]] = []
        for section in node.children:  # thead, tbody
            for row in section.children:
                rows.append([self._table_cell(cell) for cell in row.children])
        if not rows:
            return None
        columns = max(len(row) for row in rows)
        rows = [row + [("", frozenset(), "LEFT")] * (columns - len(row)) for row in rows]
        widths = self._column_widths(rows)
        pdf = self.pdf
        line = TABLE_SIZE * 0.45
        height = 0.0
        for number, row in enumerate(rows):
            lines = 1
            for (text, style, _), width in zip(row, widths, strict=True):
                bold = number == 0 or "B" in style
                pdf.set_font(MONO if "code" in style else SANS, "B" if bold else "", TABLE_SIZE)
                room = max(width - 2 * TABLE_PAD * 1.5, 1.0)
                lines = max(lines, math.ceil(pdf.get_string_width(text) / room + 0.05))
            height += lines * line + 2 * TABLE_PAD
        return rows, widths, height

    def _table_cell(self, cell: SyntaxTreeNode) -> tuple[str, frozenset[str], str]:
        """A cell's text, its style when the whole cell is in one (bold, italic, code), and
        its alignment."""
        runs = [run for run in self._runs(cell) if run.kind != "break"]
        styles = {run.style for run in runs if run.text.strip()}
        style = next(iter(styles)) if len(styles) == 1 else frozenset()
        text = "".join(f"[{run.text}]" if run.kind == "image" else run.text for run in runs)
        align = "LEFT"
        declared = str(cell.attrs.get("style", "")).replace(" ", "")
        if "text-align:right" in declared:
            align = "RIGHT"
        elif "text-align:center" in declared:
            align = "CENTER"
        return self.fonts.clean(" ".join(text.split())), style, align

    def _cell_face(self, style: frozenset[str]) -> FontFace | None:
        if not style:
            return None
        emphasis = ("BOLD " if "B" in style else "") + ("ITALICS" if "I" in style else "")
        if "code" in style:
            return FontFace(family=MONO, emphasis=emphasis.strip() or None, color=CODE_COLOR)
        return FontFace(family=SANS, emphasis=emphasis.strip() or None)

    def _column_widths(self, rows: Sequence[Sequence[tuple[str, frozenset[str], str]]]) -> list:
        """Column widths (mm) that fit the text width: each column as wide as its longest
        cell when all fit; else each at least its longest word (as far as the width allows)
        and the rest shared out by how much more each column's cells would take."""
        pdf = self.pdf
        columns = len(rows[0])
        padding = 2 * TABLE_PAD * 1.5 + 0.6
        natural = [padding + 2.0] * columns
        least = [padding + 2.0] * columns
        for number, row in enumerate(rows):
            for index, (text, style, _) in enumerate(row):
                bold = number == 0 or "B" in style
                pdf.set_font(MONO if "code" in style else SANS, "B" if bold else "", TABLE_SIZE)
                natural[index] = max(natural[index], pdf.get_string_width(text) + padding)
                longest = max((pdf.get_string_width(word) for word in text.split()), default=0)
                least[index] = max(least[index], longest + padding)
        available = self._text_width - 0.01  # fpdf2 refuses a table a hair too wide
        if sum(natural) <= available:
            return natural
        if sum(least) >= available:
            return _fair_share(least, available)
        extra = available - sum(least)
        wanted = [max(full - low, 0.0) for full, low in zip(natural, least, strict=True)]
        total = sum(wanted) or 1.0
        return [low + extra * want / total for low, want in zip(least, wanted, strict=True)]

    # Inline content --------------------------------------------------------------------------

    def _runs(self, node: SyntaxTreeNode) -> list[_Run]:
        """The inline content under `node` as runs of styled text, breaks and images."""
        runs: list[_Run] = []
        self._collect(node, frozenset(), runs)
        return runs

    def _collect(self, node: SyntaxTreeNode, style: frozenset[str], runs: list[_Run]) -> None:
        for child in node.children:
            kind = child.type
            if kind == "text" or kind in ("html_inline", "html_block"):
                runs.append(_Run("text", child.content, style))
            elif kind == "softbreak":
                runs.append(_Run("text", " ", style))
            elif kind == "hardbreak":
                runs.append(_Run("break"))
            elif kind == "code_inline":
                runs.append(_Run("text", child.content, style | {"code"}))
            elif kind == "strong":
                self._collect(child, style | {"B"}, runs)
            elif kind == "em":
                self._collect(child, style | {"I"}, runs)
            elif kind == "image":
                alt = _plain(self._runs(child)) or str(child.attrs.get("src", ""))
                runs.append(_Run("image", alt, style, src=str(child.attrs.get("src", ""))))
            elif child.children:  # inline, link (its text only), anything else
                self._collect(child, style, runs)
            elif child.content:
                runs.append(_Run("text", child.content, style))

    def _line_count(
        self, runs: Sequence[_Run], size: float, style: set[str] | frozenset[str] = frozenset()
    ) -> int:
        """How many lines `runs` take at the text width."""
        return max(1, len(self._lines(runs, size, style, self._color)))

    def _estimate(self, blocks: Sequence[SyntaxTreeNode]) -> float:
        """How much of `blocks` a heading or label before them should keep on its page: a
        whole figure, short table or short code block (they move to the next page whole),
        else about the first block's start; a heading with what it keeps in turn."""
        if not blocks:
            return 0.0
        node = blocks[0]
        if node.type == "paragraph":
            runs = self._runs(node)
            images = [run for run in runs if run.kind == "image"]
            if images and all(run.kind == "image" or not run.text.strip() for run in runs):
                size = self._image_size(images[0].src)
                return (size[2] if size else BODY_LINE) + 1.5
            lines = self._line_count(runs, BODY_SIZE)
            labels = len(blocks) > 1 and blocks[1].type in ("fence", "code_block", "table")
            if labels and lines <= 3:
                return lines * BODY_LINE + 2.5 + self._estimate(blocks[1:])
            return BODY_LINE * min(lines, 3)
        if node.type in ("fence", "code_block"):
            self.pdf.set_font(MONO, "", CODE_SIZE)
            return self._code_keep(self._code_pieces(node.content))
        if node.type == "table":
            layout = self._table_layout(node)
            height = layout[2] if layout else 0.0
            return height + 1.0 if height <= KEEP_TABLE else KEEP_WITH_NEXT
        if node.type == "heading":
            return self._heading_height(node) + self._estimate(blocks[1:])
        return min(2 * BODY_LINE, KEEP_WITH_NEXT)


def _fair_share(demands: Sequence[float], total: float, floor: float = 10.0) -> list[float]:
    """`total` shared out among columns that demand more than it all together: the least
    demanding get what they demand, smallest first, while that is at most half again an
    equal share of what is left and every other column can still have `floor` (or an equal
    share, when smaller); the others split what is left equally."""
    count = len(demands)
    floor = min(floor, total / count)
    shares = [0.0] * count
    remaining = total
    order = sorted(range(count), key=lambda index: demands[index])
    for position, index in enumerate(order):
        others = count - position - 1
        equal = remaining / (others + 1)
        if demands[index] > 1.5 * equal or demands[index] + floor * others > remaining:
            for rest in order[position:]:
                shares[rest] = equal
            break
        shares[index] = demands[index]
        remaining -= demands[index]
    return shares


def _append(line: list[tuple[str, _Font]], text: str, font: _Font) -> None:
    """`text` added to the end of `line`, joining the last segment when in the same font."""
    if line and line[-1][1] == font:
        line[-1] = (line[-1][0] + text, font)
    else:
        line.append((text, font))


def _plain(runs: Sequence[_Run]) -> str:
    return "".join(run.text for run in runs if run.kind != "break")


def _token_texts(tokens) -> Iterator[str]:
    """Every piece of text the tokens can draw (to know which characters the fonts need)."""
    for token in tokens:
        yield token.content
        if token.children:
            yield from _token_texts(token.children)
