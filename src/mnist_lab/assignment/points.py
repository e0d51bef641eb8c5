"""Points in nbgrader's metadata, derived from the rubric (the only place they are set).

Each answer cell the instructor grades by hand (a Markdown cell nbgrader marks as graded and
a solution) has the points of its ``[manual.NAME]`` table, NAME being its ``grade_id``.

Each check of the catalogue has one test cell in the solution notebook, whose nbgrader
``grade_id`` is the check's name. Its ``points`` are the rubric's, except for a bonus
(``extra_credit``) check: 0, so that nbgrader's maximum score is the lab's, the rubric's
points being added as extra credit when the test passes (`preprocessors.AwardExtraCredit`).
"""

from __future__ import annotations

from nbformat import NotebookNode
from nbgrader import utils

from mnist_lab.errors import LabError
from mnist_lab.grading.catalogue import CHECK_NAMES
from mnist_lab.grading.rubric import Rubric
from mnist_lab.notebook.record import is_answer_cell


class PointsError(LabError):
    """The notebook's test cells do not match the check catalogue."""


def nbgrader_points(rubric: Rubric) -> dict[str, int | float]:
    """Each check's points in nbgrader's metadata: the rubric's, 0 for a bonus check."""
    return {
        name: 0 if spec.extra_credit else _number(spec.points)
        for name, spec in rubric.checks.items()
    }


def _number(points: float) -> int | float:
    return int(points) if float(points).is_integer() else points


def check_cells(notebook: NotebookNode) -> dict[str, NotebookNode]:
    """The notebook's test cells (nbgrader grade cells that are not solutions), by grade_id.

    Raises `PointsError` unless there is exactly one per check of the catalogue.
    """
    cells: dict[str, NotebookNode] = {}
    for cell in notebook.cells:
        if utils.is_grade(cell) and not utils.is_solution(cell):
            grade_id = cell.metadata.nbgrader["grade_id"]
            if grade_id in cells:
                raise PointsError(f"Two test cells have the grade_id {grade_id!r}.")
            cells[grade_id] = cell
    unknown = sorted(set(cells) - set(CHECK_NAMES))
    missing = [name for name in CHECK_NAMES if name not in cells]
    if unknown or missing:
        raise PointsError(
            "The test cells must be one per check, each with the check's name as its "
            f"grade_id; unknown: {', '.join(unknown) or 'none'}; "
            f"missing: {', '.join(missing) or 'none'}."
        )
    return cells


def answer_cells_of(notebook: NotebookNode, rubric: Rubric) -> dict[str, NotebookNode]:
    """The notebook's manually graded answer cells, by grade_id.

    Raises `PointsError` unless there is exactly one per [manual.NAME] table of the rubric.
    """
    cells: dict[str, NotebookNode] = {}
    for cell in notebook.cells:
        if is_answer_cell(cell):
            grade_id = cell.metadata.nbgrader["grade_id"]
            if grade_id in cells:
                raise PointsError(f"Two answer cells have the grade_id {grade_id!r}.")
            cells[grade_id] = cell
    unknown = sorted(set(cells) - set(rubric.manual))
    missing = [name for name in rubric.manual if name not in cells]
    if unknown or missing:
        raise PointsError(
            "The answer cells (Markdown cells graded by hand) must be one per [manual.NAME] "
            f"table of the rubric ({rubric.source}), with NAME as the cell's grade_id; "
            f"cells without a table: {', '.join(unknown) or 'none'}; tables without a cell: "
            f"{', '.join(missing) or 'none'}."
        )
    return cells


def sync_points(notebook: NotebookNode, rubric: Rubric) -> list[str]:
    """Set each test cell's and answer cell's points from the rubric; returns one line per
    change made."""
    changes = []
    points = nbgrader_points(rubric)
    cells = check_cells(notebook)
    answers = answer_cells_of(notebook, rubric)
    points.update({name: _number(spec.points) for name, spec in rubric.manual.items()})
    for name, cell in {**cells, **answers}.items():
        old = cell.metadata.nbgrader.get("points")
        if old is None or float(old) != points[name]:
            cell.metadata.nbgrader["points"] = points[name]
            changes.append(f"{name}: {old} -> {points[name]:g} points")
    return changes
