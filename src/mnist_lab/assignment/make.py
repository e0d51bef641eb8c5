"""`mnist-lab make-assignment`: the student template, generated from the solution by nbgrader.

The solution notebook is the one source: its test cells' points are set from the rubric
(`points.sync_points`), then nbgrader's own generate_assignment preprocessors
(`pipeline.GENERATE_TEMPLATE`: solutions stubbed, outputs and hidden tests cleared, cells
locked, checksums computed) turn it into ``assignment/mnist_cnn_lab.ipynb``.
"""

from __future__ import annotations

import copy
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.nbgraderformat.common import SchemaMismatchError, ValidationError
from traitlets.config import Config

from mnist_lab.assignment import TEMPLATE_NOTEBOOK
from mnist_lab.assignment.pipeline import GENERATE_TEMPLATE, configure
from mnist_lab.assignment.points import sync_points
from mnist_lab.errors import LabError
from mnist_lab.grading.rubric import DEFAULT_RUBRIC, load_rubric
from mnist_lab.notebook.execute import read_notebook
from mnist_lab.paths import PROJECT_ROOT, SOLUTION_NOTEBOOK

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AssignmentUpdate:
    """What `make_assignment` changed (or, with ``check=True``, would change)."""

    points: tuple[str, ...]  # one line per test cell whose points changed
    template_changed: bool

    @property
    def up_to_date(self) -> bool:
        return not self.points and not self.template_changed


def generate_template(
    solution: NotebookNode,
    *,
    rubric: str | os.PathLike = DEFAULT_RUBRIC,
    kit_source: str | None = None,
) -> NotebookNode:
    """The student template of ``solution``, as ``nbgrader generate_assignment`` makes it;
    its set-up cell installs the kit from ``kit_source`` (default: the kit's release)."""
    notebook = copy.deepcopy(solution)
    config = configure(Config(), rubric=rubric, kit_source=kit_source)
    resources: dict = {"metadata": {"path": str(PROJECT_ROOT)}}
    for step in GENERATE_TEMPLATE:
        notebook, resources = step(config=config)(notebook, resources)
    return notebook


def make_assignment(
    *,
    solution: str | os.PathLike = SOLUTION_NOTEBOOK,
    template: str | os.PathLike = TEMPLATE_NOTEBOOK,
    rubric: str | os.PathLike = DEFAULT_RUBRIC,
    check: bool = False,
    kit_source: str | None = None,
) -> AssignmentUpdate:
    """Set the solution's points from ``rubric`` and regenerate ``template`` from it, its
    set-up cell installing the kit from ``kit_source`` where it is missing.

    With ``check``, change nothing and report what would change.
    """
    solution, template = Path(solution), Path(template)
    notebook = read_notebook(solution)
    points = tuple(sync_points(notebook, load_rubric(rubric)))
    if points and not check:
        nbformat.write(notebook, solution)
        logger.info("Points set from %s in %s:\n  %s", rubric, solution, "\n  ".join(points))
    try:
        text = (
            nbformat.writes(generate_template(notebook, rubric=rubric, kit_source=kit_source))
            + "\n"
        )
    except (RuntimeError, ValueError, ValidationError, SchemaMismatchError) as error:
        raise LabError(
            f"{solution} could not be made into the template: {error}. Check its "
            "### BEGIN/END SOLUTION and HIDDEN TESTS markers and its cells' nbgrader metadata."
        ) from error
    changed = not template.is_file() or template.read_text(encoding="utf-8") != text
    if changed and not check:
        template.parent.mkdir(parents=True, exist_ok=True)
        template.write_text(text, encoding="utf-8")
        logger.info("Wrote the student template %s", template)
    return AssignmentUpdate(points, changed)
