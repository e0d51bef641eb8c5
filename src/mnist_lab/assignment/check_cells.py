"""nbgrader test cells for the checks of a rubric's own check files.

The kit's checks have their test cells in the solution notebook. An instructor's checks (the
rubric's ``check_files``) get theirs here, when the template or the nbgrader release is
made, so that nothing of the kit or the solution is edited: each cell holds its check file's
code, then runs the check on the notebook's objects with `nbgrader_checks.run_check`, the
very function `mnist-lab grade` runs with pytest. A hidden check's cell sits inside
nbgrader's hidden-test markers, so that students see that it exists, not what it does.
"""

from __future__ import annotations

import ast

from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell

from mnist_lab.grading.catalogue import PREFIX, Check
from mnist_lab.grading.rubric import CheckSpec, Rubric

HEADING = "## Your instructor's checks\n\nThese cells grade your notebook; do not edit them."
BODY = """\
{code}
from mnist_lab.grading.kernel.nbgrader_checks import run_check

outcome = run_check({function}, globals(), points={points!r}, extra_credit={extra_credit!r})
assert outcome.passed, outcome.feedback
outcome.nbgrader_points  # the points nbgrader gives: all, part (partial credit), or none
"""


def instructor_checks(rubric: Rubric) -> tuple[Check, ...]:
    """The rubric's checks that are not the kit's own."""
    return tuple(check for check in rubric.catalogue if not check.builtin)


def check_cell(check: Check, spec: CheckSpec) -> NotebookNode:
    """The test cell of one of the instructor's checks, with nbgrader's metadata."""
    body = BODY.format(
        code=check_code(check),
        function=check.function,
        points=spec.points,
        extra_credit=spec.extra_credit,
    )
    if spec.visibility == "hidden":
        title = f"# Check (hidden: it runs when your notebook is graded): {check.title}.\n"
        source = f"{title}### BEGIN HIDDEN TESTS\n{body}### END HIDDEN TESTS"
    else:
        source = f"# Check: {check.title}.\n{body}".rstrip("\n")
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {
        "grade": True,
        "grade_id": check.name,
        "locked": True,
        "points": 0 if spec.extra_credit else _number(spec.points),
        "schema_version": 3,
        "solution": False,
        "task": False,
    }
    return cell


def check_code(check: Check) -> str:
    """The check file's code a cell needs for ``check``: its imports, helpers and constants,
    and its own test function; not the file's docstring, and no other check."""
    source = check.path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source)
    parts = []
    for index, node in enumerate(tree.body):
        if index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the module's docstring
        other_check = isinstance(node, ast.FunctionDef) and node.name.startswith(PREFIX)
        if other_check and node.name != check.function:
            continue
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        parts.append("\n".join(lines[first - 1 : node.end_lineno]))
    return "\n\n".join(parts) + "\n"


def add_check_cells(notebook: NotebookNode, rubric: Rubric) -> list[str]:
    """Append a test cell for each of the instructor's checks not already in ``notebook``.

    Returns the names of the checks added.
    """
    present = {
        cell.metadata.get("nbgrader", {}).get("grade_id")
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    }
    added = []
    for check in instructor_checks(rubric):
        if check.name in present:
            continue
        if not added:
            notebook.cells.append(new_markdown_cell(HEADING))
        notebook.cells.append(check_cell(check, rubric.checks[check.name]))
        added.append(check.name)
    return added


def _number(points: float) -> int | float:
    return int(points) if float(points).is_integer() else points
