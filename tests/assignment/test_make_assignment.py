"""The student template: generated from the solution, points from the rubric, as the lab asks."""

from __future__ import annotations

import copy
import itertools
import re
import shutil
from dataclasses import replace

import nbformat
import pytest
from nbgrader import utils

from mnist_lab.assignment import TEMPLATE_NOTEBOOK
from mnist_lab.assignment.make import generate_template, make_assignment
from mnist_lab.assignment.points import PointsError, check_cells, nbgrader_points, sync_points
from mnist_lab.cli import main
from mnist_lab.grading.catalogue import CHECK_NAMES
from mnist_lab.grading.rubric import CheckSpec, load_rubric
from mnist_lab.notebook.inspect import NOT_GIVEN, student_identity
from mnist_lab.paths import PROJECT_ROOT, SOLUTION_NOTEBOOK

WRITE_UP = ("AIM", "THEORY", "Neural network model", "DESIGN STEPS", "PROGRAM", "OUTPUT", "RESULT")


@pytest.fixture(scope="module")
def solution():
    return nbformat.read(SOLUTION_NOTEBOOK, as_version=4)


@pytest.fixture(scope="module")
def template():
    return nbformat.read(TEMPLATE_NOTEBOOK, as_version=4)


@pytest.fixture(scope="module")
def rubric():
    return load_rubric()


def code(notebook) -> str:
    return "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")


def test_the_committed_template_is_what_the_solution_generates():
    update = make_assignment(check=True)
    assert update.up_to_date, "Run `mnist-lab make-assignment` to regenerate the template."


def test_the_solution_test_cells_carry_the_rubric_points(solution, rubric):
    points = {
        name: cell.metadata.nbgrader["points"] for name, cell in check_cells(solution).items()
    }
    assert points == nbgrader_points(rubric)
    assert sync_points(copy.deepcopy(solution), rubric) == []


def test_a_bonus_check_is_worth_nothing_in_nbgrader_but_extra_credit(rubric):
    points = nbgrader_points(rubric)
    assert points["improved_accuracy"] == 0 and rubric.checks["improved_accuracy"].extra_credit
    assert sum(points.values()) == 100


def test_changed_rubric_points_are_written_into_the_solution(solution, rubric):
    checks = dict(rubric.checks)
    checks["scaled_pixels"] = CheckSpec(12.0)
    checks["improved_accuracy"] = CheckSpec(10.0)  # no longer extra credit
    notebook = copy.deepcopy(solution)
    changes = sync_points(notebook, replace(rubric, checks=checks))
    assert changes == ["scaled_pixels: 10 -> 12 points", "improved_accuracy: 0 -> 10 points"]
    assert check_cells(notebook)["scaled_pixels"].metadata.nbgrader["points"] == 12


def test_each_check_has_exactly_one_test_cell(solution):
    assert set(check_cells(solution)) == set(CHECK_NAMES)
    notebook = copy.deepcopy(solution)
    notebook.cells.remove(check_cells(notebook)["lab_outputs"])
    with pytest.raises(PointsError, match="missing: lab_outputs"):
        check_cells(notebook)


def test_exactly_the_hidden_checks_have_hidden_tests(solution, rubric):
    hidden = {name for name, spec in rubric.checks.items() if spec.visibility == "hidden"}
    cells = check_cells(solution)
    assert {name for name, cell in cells.items() if "BEGIN HIDDEN TESTS" in cell.source} == hidden


def test_the_template_stubs_every_solution(template, solution):
    sources = code(template)
    assert "BEGIN SOLUTION" not in sources
    assert "x_train / 255.0" not in sources and "keras.Sequential(" not in sources
    assert "prepare_for_model" not in sources  # the student writes preprocess_scan
    solution_cells = [c for c in solution.cells if utils.is_solution(c) and c.cell_type == "code"]
    assert sources.count("# YOUR CODE HERE\nraise NotImplementedError()") == len(solution_cells) - 1
    assert "    # YOUR CODE HERE\n    raise NotImplementedError()" in sources  # preprocess_scan


def test_the_student_s_own_writing_is_left_to_them_and_graded_by_hand(template, solution):
    """Each [manual.NAME] of the rubric is an answer cell: emptied for the student, editable,
    graded by hand with the rubric's points."""
    manual = load_rubric().manual
    answers = {
        c.metadata.nbgrader["grade_id"]: c
        for c in template.cells
        if c.cell_type == "markdown" and utils.is_grade(c) and utils.is_solution(c)
    }
    assert set(answers) == set(manual) and len(manual) >= 4
    for name, cell in answers.items():
        assert cell.source == "YOUR ANSWER HERE"
        assert not utils.is_locked(cell) and cell.metadata.get("editable", True) is not False
        assert cell.metadata.nbgrader["points"] == manual[name].points
    written = [
        c for c in solution.cells if c.metadata.get("nbgrader", {}).get("grade_id") in manual
    ]
    assert all(len(c.source.split()) > 30 for c in written)  # the reference's own answers


def test_the_template_has_no_hidden_test_and_no_output(template):
    text = TEMPLATE_NOTEBOOK.read_text()
    assert "HIDDEN TESTS" not in text and 'run_check("scanned_digits"' not in text
    assert all(not cell.get("outputs") for cell in template.cells if cell.cell_type == "code")


def test_the_template_asks_for_a_name_and_register_number(template, solution):
    assert student_identity(template) == {"name": NOT_GIVEN, "register_number": NOT_GIVEN}
    assert 'STUDENT_NAME = "..."' in code(template)
    assert student_identity(solution)["name"] == "Reference Solution"


def test_the_template_follows_the_write_up(template):
    headings = [
        line.lstrip("#").strip()
        for cell in template.cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if line.startswith("## ")
    ]
    assert [h for h in headings if h in WRITE_UP] == list(WRITE_UP)
    assert "draw_model_diagram" in code(template)  # the model-diagram cell
    steps = re.findall(r"^### Step (\d):", "\n".join(c.source for c in template.cells), re.M)
    assert steps == [str(n) for n in range(1, 10)]


def test_instructions_and_checks_are_read_only(template):
    for cell in template.cells:
        if utils.is_solution(cell):  # the student's answers
            continue
        if cell.cell_type == "markdown" or utils.is_grade(cell):
            assert utils.is_locked(cell) and cell.metadata["editable"] is False, cell.source[:60]
            assert cell.metadata["deletable"] is False


def test_loading_the_data_stays_given(template):
    given = [c.source for c in template.cells if c.cell_type == "code" and not utils.is_solution(c)]
    assert any("load_mnist()" in source for source in given)


def test_each_check_cell_follows_a_cell_nbgrader_can_find(solution):
    """nbgrader puts a deleted check back after the graded or solution cell before it."""
    managed = [c for c in solution.cells if "nbgrader" in c.metadata]
    for before, cell in itertools.pairwise(managed):
        if utils.is_grade(cell) and not utils.is_solution(cell):  # a check, not an answer
            assert utils.is_grade(before) or utils.is_solution(before), cell.source[:60]


def test_generating_does_not_change_the_solution(solution):
    before = copy.deepcopy(solution)
    generate_template(solution)
    assert solution == before


def test_make_assignment_check_reports_a_stale_template(tmp_path, capsys):
    stale = tmp_path / "template.ipynb"
    stale.write_text(TEMPLATE_NOTEBOOK.read_text().replace("Step 3", "Step three"))
    assert main(["make-assignment", "--check", "--out", str(stale)]) == 1
    assert "differs from what" in capsys.readouterr().out
    assert main(["make-assignment", "--out", str(stale)]) == 0
    assert stale.read_text() == TEMPLATE_NOTEBOOK.read_text()


def test_a_broken_solution_is_refused_with_a_message(tmp_path, solution, capsys):
    broken = copy.deepcopy(solution)
    check_cells(broken)["scaled_pixels"].source += "\n### BEGIN HIDDEN TESTS"
    nbformat.write(broken, tmp_path / "solution.ipynb")
    out = tmp_path / "template.ipynb"
    assert (
        main(["make-assignment", "--solution", str(tmp_path / "solution.ipynb"), "--out", str(out)])
        == 2
    )
    assert "could not be made into the template" in capsys.readouterr().err
    assert not out.exists()


def test_a_rubric_s_own_checks_get_a_test_cell_each_and_the_solution_is_untouched(tmp_path):
    shutil.copy(PROJECT_ROOT / "docs" / "examples" / "my_checks.py", tmp_path / "my_checks.py")
    text = (PROJECT_ROOT / "autograder" / "rubric.toml").read_text()
    text = text.replace("check_files = []", 'check_files = ["my_checks.py"]')
    text += "[checks.uses_dropout]\npoints = 5\n"
    text += '[checks.reflection]\npoints = 4\nvisibility = "hidden"\n'
    (tmp_path / "rubric.toml").write_text(text)
    before = SOLUTION_NOTEBOOK.read_bytes()
    out = tmp_path / "template.ipynb"
    assert (
        main(["make-assignment", "--rubric", str(tmp_path / "rubric.toml"), "--out", str(out)]) == 0
    )
    assert SOLUTION_NOTEBOOK.read_bytes() == before
    cells = {
        cell.metadata.nbgrader["grade_id"]: cell
        for cell in nbformat.read(out, as_version=4).cells
        if utils.is_grade(cell)
    }
    assert list(cells)[-2:] == ["uses_dropout", "reflection"]
    dropout, reflection = cells["uses_dropout"], cells["reflection"]
    assert dropout.metadata.nbgrader["points"] == 5 and reflection.metadata.nbgrader["points"] == 4
    assert "def test_uses_dropout(improved_model, feedback):" in dropout.source
    assert "run_check(test_uses_dropout, globals(), points=5.0" in dropout.source
    # the hidden check's code is in neither released cell
    assert "test_reflection" not in dropout.source and "test_reflection" not in reflection.source
    assert reflection.source.startswith("# Check (hidden")


def test_an_answer_cell_and_the_rubric_s_manual_tables_must_match(solution):
    rubric = load_rubric()
    without = replace(rubric, manual={k: v for k, v in rubric.manual.items() if k != "result"})
    with pytest.raises(
        PointsError, match=r"cells without a table: result; tables without a cell: none"
    ):
        sync_points(copy.deepcopy(solution), without)
    extra = replace(rubric, manual={**rubric.manual, "reflection": rubric.manual["result"]})
    with pytest.raises(PointsError, match=r"tables without a cell: reflection"):
        sync_points(copy.deepcopy(solution), extra)


def test_an_answer_s_points_come_from_the_rubric(solution):
    rubric = load_rubric()
    notebook = copy.deepcopy(solution)
    changed = replace(
        rubric,
        manual={
            **rubric.manual,
            "observations": replace(rubric.manual["observations"], points=12.0),
        },
    )
    assert sync_points(notebook, changed) == ["observations: 10 -> 12 points"]
    cell = next(
        c
        for c in notebook.cells
        if c.metadata.get("nbgrader", {}).get("grade_id") == "observations"
    )
    assert cell.metadata.nbgrader["points"] == 12
