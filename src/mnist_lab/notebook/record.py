"""The notebook as a lab record: its write-up sections, the student's own answers and its
code, read from the cells without running anything. The lab report lays them out.

- **Sections** are the notebook's level-2 headings (``## AIM``, ``## THEORY``, ...): a
  section holds the Markdown under its heading up to the next one, across cells, except
  a cell that only asks for the answer right below it.
- **Answers** are nbgrader's manually graded answer cells (Markdown cells marked both
  ``grade`` and ``solution``), by their ``grade_id``; the instructor grades them by hand.
  Each belongs to the section it sits in. An answer still empty, or still nbgrader's
  placeholder, is not written yet.
- **The program** is every code cell in order, each marked as the student's or as given
  with the lab: a cell is given when its code is, word for word, that of a cell the
  template gives (not one the student completes); a cell to complete, a cell the student
  added and a given cell they changed are theirs. The check cells are the grader's, not
  the program, and are left out (a graded copy of the notebook holds the hidden checks'
  code).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from nbformat import NotebookNode

# The write-up's sections, in its order (../shared/LAB.md); headings are matched without
# regard to case ("## Neural network model").
SECTIONS = (
    "AIM",
    "THEORY",
    "NEURAL NETWORK MODEL",
    "DESIGN STEPS",
    "PROGRAM",
    "OUTPUT",
    "RESULT",
)
# What nbgrader leaves in a Markdown answer cell of the student's copy.
ANSWER_PLACEHOLDER = "YOUR ANSWER HERE"
_SECTION_HEADING = re.compile(r"^ {0,3}##[ \t]+(.+?)[ \t#]*$")
_STEP_HEADING = re.compile(r"^ {0,3}###[ \t]+(.+?)[ \t#]*$")


@dataclass(frozen=True)
class Answer:
    """A part of the write-up the student writes in their own words."""

    name: str  # the answer cell's grade_id, e.g. "problem_statement"
    text: str  # the cell's Markdown, as written

    @property
    def title(self) -> str:
        return answer_title(self.name)

    @property
    def written(self) -> bool:
        return is_written(self.text)


@dataclass(frozen=True)
class ProgramCell:
    """One code cell of the notebook."""

    number: int  # the cell's place in the notebook, from 1, counting every cell
    source: str
    students: bool  # the student's own code (a cell to complete, or one they added)
    step: str | None  # the "### Step ..." heading above it, if any


@dataclass(frozen=True)
class LabRecord:
    """What the report takes from the notebook itself."""

    sections: Mapping[str, str] = field(default_factory=dict)  # SECTIONS name -> Markdown
    answers: Mapping[str, tuple[Answer, ...]] = field(default_factory=dict)  # by section
    program: tuple[ProgramCell, ...] = ()
    checks_left_out: int = 0

    def all_answers(self) -> tuple[Answer, ...]:
        return tuple(answer for answers in self.answers.values() for answer in answers)


def answer_title(name: str) -> str:
    """An answer's title from its grade_id: "problem_statement" -> "Problem statement"."""
    return name.replace("_", " ").capitalize()


def is_written(text: str) -> bool:
    """Whether an answer holds more than nothing or nbgrader's placeholder."""
    return " ".join(text.split()) not in ("", ANSWER_PLACEHOLDER)


def _nbgrader(cell: NotebookNode) -> Mapping:
    data = cell.get("metadata", {}).get("nbgrader", {})
    return data if isinstance(data, Mapping) else {}


def is_answer_cell(cell: NotebookNode) -> bool:
    """A manually graded answer: a Markdown cell nbgrader marks as graded and a solution."""
    data = _nbgrader(cell)
    return cell.cell_type == "markdown" and bool(data.get("grade")) and bool(data.get("solution"))


def is_check_cell(cell: NotebookNode) -> bool:
    """A test cell (graded, not a solution): the grader's, not the student's program."""
    data = _nbgrader(cell)
    return cell.cell_type == "code" and bool(data.get("grade")) and not data.get("solution")


def given_code(template: NotebookNode) -> frozenset[str]:
    """The code of the cells ``template`` gives as they are: neither cells to complete nor
    check cells."""
    return frozenset(
        _normal(cell.source)
        for cell in template.cells
        if cell.cell_type == "code"
        and not _nbgrader(cell).get("solution")
        and not is_check_cell(cell)
    )


def _normal(code: str) -> str:
    return "\n".join(line.rstrip() for line in code.strip().splitlines())


def _is_students(cell: NotebookNode, given: frozenset[str]) -> bool:
    return bool(_nbgrader(cell).get("solution")) or _normal(cell.source) not in given


def answer_cells(notebook: NotebookNode) -> dict[str, NotebookNode]:
    """The notebook's answer cells by grade_id (the first of a repeated id)."""
    cells: dict[str, NotebookNode] = {}
    for cell in notebook.cells:
        if is_answer_cell(cell):
            cells.setdefault(str(_nbgrader(cell).get("grade_id", "")), cell)
    return cells


def section_name(heading: str) -> str | None:
    """The `SECTIONS` name a level-2 heading opens, or None."""
    words = " ".join(re.sub(r"[*_`]", "", heading).split()).upper()
    return words if words in SECTIONS else None


def read_record(notebook: NotebookNode, given: frozenset[str] = frozenset()) -> LabRecord:
    """The notebook's sections, answers and program (see the module's docstring); ``given``
    is the code the lab gives (`given_code` of its template)."""
    sections: dict[str, list[str]] = {}
    answers: dict[str, list[Answer]] = {}
    program: list[ProgramCell] = []
    current: str | None = None
    step: str | None = None
    checks = 0
    seen_answers: set[str] = set()
    prompt: list[str] | None = None  # the section's parts, when its last is a whole cell
    cells = list(notebook.cells)
    if cells and cells[-1].get("metadata", {}).get("mnist_lab") == "export":
        cells.pop()  # the grader's own last cell, which exports what the notebook made
    for number, cell in enumerate(cells, start=1):
        if cell.cell_type == "markdown" and is_answer_cell(cell):
            name = str(_nbgrader(cell).get("grade_id", ""))
            if name and name not in seen_answers:
                seen_answers.add(name)
                answers.setdefault(current or "", []).append(Answer(name, cell.source))
            if prompt:  # the cell just above asked for this answer: not part of the write-up
                prompt.pop()
            prompt = None
            continue
        prompt = None
        if cell.cell_type == "markdown":
            opens_section = any(_SECTION_HEADING.match(line) for line in cell.source.splitlines())
            body: list[str] = []
            for line in cell.source.splitlines():
                heading = _SECTION_HEADING.match(line)
                if heading:
                    current, step = section_name(heading.group(1)), None
                    if current is not None:
                        sections.setdefault(current, [])
                    continue
                sub = _STEP_HEADING.match(line)
                if sub and current == "PROGRAM":
                    step = sub.group(1)
                body.append(line)
            if current is not None and current != "PROGRAM":
                sections[current].append("\n".join(body).strip())
                prompt = None if opens_section else sections[current]
        elif cell.cell_type == "code":
            if is_check_cell(cell):
                checks += 1
            elif cell.source.strip():
                program.append(ProgramCell(number, cell.source, _is_students(cell, given), step))
    return LabRecord(
        sections=MappingProxyType(
            {name: "\n\n".join(part for part in parts if part) for name, parts in sections.items()}
        ),
        answers=MappingProxyType({name: tuple(items) for name, items in answers.items()}),
        program=tuple(program),
        checks_left_out=checks,
    )
