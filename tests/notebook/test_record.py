"""read_record: the notebook's sections, the student's answers and the program."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from mnist_lab.assignment import TEMPLATE_NOTEBOOK
from mnist_lab.grading.rubric import load_rubric
from mnist_lab.notebook.record import (
    ANSWER_PLACEHOLDER,
    SECTIONS,
    given_code,
    is_written,
    read_record,
)
from mnist_lab.paths import SOLUTION_NOTEBOOK


def nbgrader(cell, grade_id, *, grade=False, solution=False, locked=False):
    cell.metadata["nbgrader"] = {
        "grade": grade,
        "solution": solution,
        "locked": locked,
        "grade_id": grade_id,
        "schema_version": 3,
        "task": False,
    }
    return cell


def answer(grade_id, text):
    return nbgrader(new_markdown_cell(text), grade_id, grade=True, solution=True)


@pytest.fixture(scope="module")
def template():
    return nbformat.read(TEMPLATE_NOTEBOOK, as_version=4)


@pytest.fixture(scope="module")
def solution():
    return nbformat.read(SOLUTION_NOTEBOOK, as_version=4)


def test_the_lab_notebooks_have_every_section_of_the_write_up(template, solution):
    for notebook in (template, solution):
        assert list(read_record(notebook).sections) == list(SECTIONS)


def test_each_answer_stands_in_its_section_and_matches_the_rubric(template):
    record = read_record(template)
    placed = {
        answer.name: section for section, answers in record.answers.items() for answer in answers
    }
    assert placed == {
        "problem_statement": "THEORY",
        "design_notes": "DESIGN STEPS",
        "observations": "OUTPUT",
        "result": "RESULT",
    }
    assert set(placed) == set(load_rubric().manual)


def test_the_template_s_answers_are_not_written_and_the_solution_s_are(template, solution):
    assert not any(answer.written for answer in read_record(template).all_answers())
    assert all(answer.written for answer in read_record(solution).all_answers())


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("", False),
        ("   \n", False),
        (ANSWER_PLACEHOLDER, False),
        (f"  {ANSWER_PLACEHOLDER}\n", False),
        ("My answer.", True),
        (f"{ANSWER_PLACEHOLDER} and then some", True),
    ],
)
def test_an_answer_is_written_when_it_holds_more_than_the_placeholder(text, written):
    assert is_written(text) is written


def test_a_prompt_right_above_an_answer_is_not_part_of_the_section(solution):
    theory = read_record(solution).sections["THEORY"]
    assert "Problem statement and dataset" in theory
    assert "Your problem statement" not in theory


def test_the_program_is_the_code_without_the_checks(template, solution):
    given = given_code(template)
    record = read_record(solution, given)
    sources = "\n".join(cell.source for cell in record.program)
    assert "run_check" not in sources  # no check cell, hidden or not
    assert "x_train_scaled = x_train / 255.0" in sources
    checks = sum(1 for cell in solution.cells if "run_check(" in cell.source)
    assert record.checks_left_out == checks > 0


def test_the_student_s_cells_are_theirs_and_the_given_ones_are_not(template, solution):
    given = given_code(template)
    record = read_record(solution, given)
    by_code = {cell.source.strip().splitlines()[0]: cell.students for cell in record.program}
    assert by_code["import keras"] is False  # the imports, given as they are
    assert by_code["### BEGIN SOLUTION"] is True  # a cell to complete
    name_cell = next(cell for cell in record.program if "STUDENT_NAME =" in cell.source)
    assert name_cell.students  # filled in: no longer the template's
    assert not any(
        cell.students
        for cell in read_record(template, given).program
        if "import keras" in cell.source
    )


def test_a_given_cell_the_student_changed_and_a_cell_they_added_are_theirs(template):
    given = given_code(template)
    notebook = nbformat.from_dict(template)
    imports = next(cell for cell in notebook.cells if cell.source.startswith("import keras"))
    imports.source += "\nimport seaborn as sns"
    notebook.cells.append(new_code_cell("print('my own experiment')"))
    record = read_record(notebook, given)
    mine = [cell for cell in record.program if cell.students]
    assert any("import seaborn" in cell.source for cell in mine)
    assert any("my own experiment" in cell.source for cell in mine)


def test_a_notebook_without_sections_or_metadata_gives_its_code_as_the_student_s():
    notebook = new_notebook(
        cells=[new_markdown_cell("# My lab"), new_code_cell("x = 1"), new_code_cell("")]
    )
    record = read_record(notebook)
    assert record.sections == {} and record.answers == {}
    assert [(cell.number, cell.source, cell.students) for cell in record.program] == [
        (2, "x = 1", True)
    ]


def test_sections_span_cells_and_steps_name_the_program_s_parts():
    notebook = new_notebook(
        cells=[
            new_markdown_cell("## Aim\n\nTo classify digits."),
            new_markdown_cell("More about the aim."),
            answer("my_aim", "In my words."),
            new_markdown_cell("## PROGRAM\n\n### Step 1: Load"),
            new_code_cell("data = load()"),
            new_markdown_cell("### Step 2: Train"),
            new_code_cell("model.fit(data)"),
            new_markdown_cell("## Something else\n\nNot a section of the write-up."),
            answer("my_aim", "A second cell with the same id is ignored."),
        ]
    )
    record = read_record(notebook)
    assert record.sections == {"AIM": "To classify digits.", "PROGRAM": ""}
    assert [(a.name, a.text) for a in record.answers["AIM"]] == [("my_aim", "In my words.")]
    assert [(cell.step, cell.source) for cell in record.program] == [
        ("Step 1: Load", "data = load()"),
        ("Step 2: Train", "model.fit(data)"),
    ]


def test_the_grader_s_export_cell_is_not_the_program():
    export = new_code_cell("from mnist_lab.grading.kernel.export import export_all")
    export.metadata["mnist_lab"] = "export"
    notebook = new_notebook(cells=[new_code_cell("x = 1"), export])
    assert [cell.source for cell in read_record(notebook).program] == ["x = 1"]
