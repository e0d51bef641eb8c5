"""Read facts from a notebook's cells without running anything.

The student's name and register number come from the literal assignments
``STUDENT_NAME = "..."`` and ``REGISTER_NUMBER = "..."`` (or, failing those, from
``NAME: ...`` / ``REGISTER NUMBER: ...`` lines in a markdown cell). Training time comes from
the execution timestamps nbclient records on the cell that calls ``.fit``.
"""

from __future__ import annotations

import ast
import re
from datetime import datetime

from nbformat import NotebookNode

NOT_GIVEN = "(not given)"
MAX_IDENTITY_LENGTH = 80
IDENTITY_VARIABLES = {"name": "STUDENT_NAME", "register_number": "REGISTER_NUMBER"}
IDENTITY_MARKDOWN = {
    "name": re.compile(r"^[\s*#>_-]*NAME\s*[*_]*\s*[:\-]\s*[*_]*\s*(.+?)\s*$", re.I | re.M),
    "register_number": re.compile(
        r"^[\s*#>_-]*REG(?:ISTER|\.)?\s*(?:NO\.?|NUMBER)\s*[*_]*\s*[:\-]\s*[*_]*\s*(.+?)\s*$",
        re.I | re.M,
    ),
}
PLACEHOLDERS = {"", "your name", "your register number", "...", "todo"}


def _code_trees(notebook: NotebookNode):
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        try:
            yield index, ast.parse(cell.source)
        except SyntaxError:
            continue  # IPython magics or a student's syntax error: nothing to read here


def _literal_assignments(notebook: NotebookNode) -> dict[str, object]:
    found: dict[str, object] = {}
    for _, tree in _code_trees(notebook):
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        found[target.id] = node.value.value
    return found


def _clean(value: object) -> str | None:
    text = " ".join(str(value).split())[:MAX_IDENTITY_LENGTH]
    return None if text.lower() in PLACEHOLDERS else text


def student_identity(notebook: NotebookNode) -> dict[str, str]:
    """``{"name": ..., "register_number": ...}``, each `NOT_GIVEN` when the notebook lacks it."""
    assigned = _literal_assignments(notebook)
    markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    identity = {}
    for key, variable in IDENTITY_VARIABLES.items():
        value = _clean(assigned[variable]) if variable in assigned else None
        if value is None:
            match = IDENTITY_MARKDOWN[key].search(markdown)
            value = _clean(match.group(1).strip("*_ ")) if match else None
        identity[key] = value or NOT_GIVEN
    return identity


def _assigns_fit_result(tree: ast.AST, name: str) -> bool:
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Attribute)
            and node.value.func.attr == "fit"
        ):
            return True
    return False


def cell_seconds(cell: NotebookNode) -> float | None:
    """How long an executed cell ran, from nbclient's recorded timestamps."""
    timing = cell.metadata.get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return None
    parse = datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()


def training_seconds(notebook: NotebookNode, history_name: str = "history") -> float | None:
    """Seconds spent in the cell that assigns ``history_name = ....fit(...)``, if it ran."""
    for index, tree in _code_trees(notebook):
        if _assigns_fit_result(tree, history_name):
            return cell_seconds(notebook.cells[index])
    return None
