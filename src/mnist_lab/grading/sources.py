"""Read a notebook's code without running it: which cells define a name or call a function.

Cells are parsed after IPython's own transformations (``%matplotlib inline``, ``!pip ...``),
so magics do not hide a cell's code; a cell that still does not parse is skipped.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from nbformat import NotebookNode

EXPORT_MARKER = "export"  # metadata["mnist_lab"] of the cell the grader appends


def student_code_cells(notebook: NotebookNode) -> Iterator[tuple[int, NotebookNode]]:
    """(index, cell) for each code cell the student wrote (not the grader's export cell)."""
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and cell.metadata.get("mnist_lab") != EXPORT_MARKER:
            yield index, cell


def parse_cell(source: str) -> ast.Module | None:
    """The cell's syntax tree, or None when it is not valid Python even after IPython's fixes."""
    try:
        return ast.parse(source)
    except SyntaxError:
        pass
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError, ImportError):
        return None


def _assigned_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def assigning_cells(notebook: NotebookNode, name: str) -> list[int]:
    """Indices of the student's code cells that assign ``name`` at any depth."""
    found = []
    for index, cell in student_code_cells(notebook):
        tree = parse_cell(cell.source)
        if tree is not None and name in _assigned_names(tree):
            found.append(index)
    return found


def calls_function(source: str, function: str) -> bool:
    """True when the code calls ``function`` by name or as an attribute (``m.function(...)``)."""
    tree = parse_cell(source)
    if tree is None:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            target = node.func
            name = target.id if isinstance(target, ast.Name) else getattr(target, "attr", None)
            if name == function:
                return True
    return False


def mentions_name(source: str, name: str) -> bool:
    """True when the code reads the variable ``name``."""
    tree = parse_cell(source)
    return tree is not None and any(
        isinstance(node, ast.Name) and node.id == name for node in ast.walk(tree)
    )
