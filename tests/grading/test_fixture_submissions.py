"""The fixture submissions themselves: up to date, and the template made as nbgrader does."""

from __future__ import annotations

import nbformat
import pytest

from mnist_lab.paths import SOLUTION_NOTEBOOK
from tests.fixtures import submissions
from tests.fixtures.submissions.template import clear_solutions, template_from_solution


@pytest.mark.parametrize("name", sorted(submissions.all_submissions()))
def test_the_committed_fixture_matches_its_definition(name):
    committed = nbformat.read(submissions.path(name), as_version=4)
    expected = submissions.all_submissions()[name]
    assert [cell.source for cell in committed.cells] == [cell.source for cell in expected.cells], (
        "Run `python -m tests.fixtures.submissions` to rewrite the fixture notebooks."
    )


def test_a_solution_block_becomes_the_stub_at_its_indentation():
    source = (
        "def f(x):\n"
        '    """Doc."""\n'
        "    ### BEGIN SOLUTION\n"
        "    return x + 1\n"
        "    ### END SOLUTION\n"
        "print(f)"
    )
    assert clear_solutions(source) == (
        'def f(x):\n    """Doc."""\n    # YOUR CODE HERE\n    raise NotImplementedError()\nprint(f)'
    )


@pytest.mark.parametrize(
    "source",
    ["### BEGIN SOLUTION\nx = 1", "x = 1\n### END SOLUTION", "### BEGIN SOLUTION\n" * 2],
)
def test_unbalanced_markers_are_refused(source):
    with pytest.raises(ValueError):
        clear_solutions(source)


def test_the_template_keeps_the_given_code_and_drops_every_solution(tmp_path):
    template = nbformat.read(template_from_solution(SOLUTION_NOTEBOOK, tmp_path / "t.ipynb"), 4)
    sources = "\n".join(cell.source for cell in template.cells if cell.cell_type == "code")
    assert "BEGIN SOLUTION" not in sources
    assert "x_train_scaled = x_train / 255.0" not in sources
    assert "load_mnist()" in sources  # given, not a solution
    assert sources.count("raise NotImplementedError()") >= 7


def test_the_template_leaves_each_written_answer_empty_as_nbgrader_does(tmp_path):
    template = nbformat.read(template_from_solution(SOLUTION_NOTEBOOK, tmp_path / "t.ipynb"), 4)
    answers = [c for c in template.cells if c.cell_type == "markdown" and "nbgrader" in c.metadata]
    answers = [c for c in answers if c.metadata.nbgrader.get("solution")]
    assert len(answers) == 4 and {c.source for c in answers} == {"YOUR ANSWER HERE"}
