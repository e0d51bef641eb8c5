"""The kit's nbgrader preprocessors: six small additions to nbgrader's own pipelines.

- `AddInstructorChecks` (generate_assignment, first): a test cell for each check of the
  rubric's own check files (`check_cells`), so that nbgrader and `mnist-lab grade` grade
  with the same checks;
- `IdentityPlaceholders` (generate_assignment): the template's name and register number
  become ``"..."``, which the kit reads as not given;
- `NoteRestoredCells` (autograde): nbgrader's OverwriteCells, which also tells the student,
  in the cell itself, that a changed or deleted cell was put back;
- `NoteDuplicatedCells` (autograde): nbgrader's DeduplicateIds, which also marks the copy
  of a graded cell that is not graded;
- `AwardExtraCredit` (autograde, after SaveAutoGrades): a passed bonus test adds its rubric
  points as nbgrader extra credit, outside the maximum score;
- `HideHiddenTests` (generate_feedback): a hidden test shows only whether it passed, never
  its code or output (nbgrader shows both by default: jupyter/nbgrader#917).

See `pipeline` for where each runs.
"""

from __future__ import annotations

import json
import re

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader import utils
from nbgrader.api import Gradebook
from nbgrader.preprocessors import (
    ClearHiddenTests,
    DeduplicateIds,
    NbGraderPreprocessor,
    OverwriteCells,
)
from traitlets import Unicode

from mnist_lab.assignment.check_cells import add_check_cells
from mnist_lab.grading.results import HIDDEN_MESSAGE
from mnist_lab.grading.rubric import DEFAULT_RUBRIC, load_rubric
from mnist_lab.notebook.inspect import IDENTITY_VARIABLES

IDENTITY_ASSIGNMENT = re.compile(
    r"^(?P<name>" + "|".join(IDENTITY_VARIABLES.values()) + r")\s*=\s*(['\"]).*\2\s*$",
    re.MULTILINE,
)
PLACEHOLDER = "..."
NOTE = "Note from the grader: "
RESTORED = (
    "this cell was changed in your submission, so nbgrader graded the original (instructions "
    "and check cells cannot be changed). Put your own code in cells of your own."
)
DUPLICATED = (
    "this is a copy of the graded cell {grade_id!r}. Only one copy of a graded cell counts: "
    "this one ran as ordinary code and was not graded."
)


def add_note(cell: NotebookNode, text: str) -> None:
    """Put ``text`` at the top of ``cell``: a comment in code, an italic line in Markdown."""
    if cell.cell_type == "code":
        cell.source = f"# {NOTE}{text}\n{cell.source}"
    else:
        cell.source = f"*{NOTE}{text}*\n\n{cell.source}"


def failed(cell: NotebookNode) -> bool:
    """nbgrader's rule: a test cell fails when it shows an error or writes to stderr."""
    return any(
        output.output_type == "error"
        or (output.output_type == "stream" and output.get("name") == "stderr")
        for output in cell.get("outputs", [])
    )


class AddInstructorChecks(NbGraderPreprocessor):
    """A test cell for each check of the rubric's check files that the notebook lacks."""

    rubric = Unicode(str(DEFAULT_RUBRIC), help="The rubric that names the checks.").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict):
        added = add_check_cells(nb, load_rubric(self.rubric))
        if added:
            self.log.info("Added the test cells of the checks %s", ", ".join(added))
        return nb, resources


INSTALL_CELL_ID = "install-kit"
KIT_SOURCE_LINE = re.compile(r"^KIT_SOURCE = .*$", re.M)


def default_kit_source() -> str:
    """The kit's own release, as pip names it: ``mnist-cnn-lab==VERSION``."""
    from mnist_lab import __version__

    return f"mnist-cnn-lab=={__version__}"


class IdentityPlaceholders(NbGraderPreprocessor):
    """The solution's ``STUDENT_NAME`` and ``REGISTER_NUMBER`` become ``"..."``.

    The identity cell is an ordinary cell (a solution cell without a solution region would
    become a stub that raises), so the cells nbgrader manages are left alone.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and "nbgrader" not in cell.metadata:
            cell.source = IDENTITY_ASSIGNMENT.sub(
                lambda match: f'{match["name"]} = "{PLACEHOLDER}"', cell.source
            )
        return cell, resources


class KitSource(NbGraderPreprocessor):
    """The set-up cell (id ``install-kit``) installs the kit from ``source``: the line
    ``KIT_SOURCE = ...`` gets it, so that a student on Colab or in a bare Python installs
    what the instructor chose (`mnist-lab make-assignment --kit-source`)."""

    source = Unicode(default_kit_source(), help="what pip installs the kit from").tag(config=True)

    def preprocess(self, nb, resources):
        cells = [cell for cell in nb.cells if cell.get("id") == INSTALL_CELL_ID]
        if len(cells) != 1 or not KIT_SOURCE_LINE.search(cells[0].source):
            raise ValueError(
                f"the notebook needs one code cell with the id {INSTALL_CELL_ID!r} holding a "
                "line KIT_SOURCE = ..., the template's set-up cell"
            )
        line = f"KIT_SOURCE = {json.dumps(self.source)}  # set by your instructor"
        cells[0].source = KIT_SOURCE_LINE.sub(lambda _: line, cells[0].source, count=1)
        return nb, resources


class NoteRestoredCells(OverwriteCells):
    """OverwriteCells, and a note in each cell it put back, so the feedback says so."""

    missing_cell_notification = Unicode(
        NOTE + "this cell (id: {cell_id}) was missing from your submission; nbgrader put it "
        "back and graded it.\n\n"
    ).tag(config=True)

    def preprocess_cell(self, cell, resources, cell_index):
        submitted = cell.source
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if cell.source != submitted and _as_released(cell.source) != submitted:
            add_note(cell, RESTORED)
        return cell, resources


def _as_released(source: str) -> str:
    """``source`` as the student received it: hidden test regions removed."""
    cell = NotebookNode(cell_type="code", source=source, metadata={})
    ClearHiddenTests()._remove_hidden_test_region(cell)
    return cell.source


class NoteDuplicatedCells(DeduplicateIds):
    """DeduplicateIds, and a note in each copy it stopped grading.

    DeduplicateIds leaves the copy an empty ``nbgrader`` entry, on which OverwriteCells'
    ``add_missing_cells`` fails (KeyError: 'grade_id'); the entry is removed instead.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if grade_id is not None and not cell.metadata.get("nbgrader"):
            del cell.metadata["nbgrader"]
            add_note(cell, DUPLICATED.format(grade_id=grade_id))
        return cell, resources


class AwardExtraCredit(NbGraderPreprocessor):
    """A passed test of a bonus check earns the rubric's points as nbgrader extra credit.

    A bonus check's test cell is worth 0 points in the notebook (so that the maximum score
    is the lab's), and nbgrader adds a grade's ``extra_credit`` to its score. Runs after
    SaveAutoGrades, on the executed notebook.
    """

    rubric = Unicode(str(DEFAULT_RUBRIC), help="The rubric that sets the points.").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict):
        self.bonus = {
            name: spec.points
            for name, spec in load_rubric(self.rubric).checks.items()
            if spec.extra_credit
        }
        self.ids = resources["nbgrader"]
        with Gradebook(self.ids["db_url"]) as self.gradebook:
            return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if utils.is_grade(cell) and grade_id in self.bonus:
            grade = self.gradebook.find_grade(
                grade_id, self.ids["notebook"], self.ids["assignment"], self.ids["student"]
            )
            grade.extra_credit = 0.0 if failed(cell) else self.bonus[grade_id]
            self.gradebook.db.commit()
        return cell, resources


class HideHiddenTests(ClearHiddenTests):
    """In the feedback, a hidden test shows whether it passed; not its code or output."""

    def preprocess_cell(self, cell, resources, cell_index):
        if self._remove_hidden_test_region(cell) and cell.cell_type == "code":
            message = HIDDEN_MESSAGE[not failed(cell)]
            cell.outputs = [new_output("stream", name="stdout", text=message + "\n")]
            cell.execution_count = None
        return cell, resources
