"""Submissions that break the rules, graded by nbgrader: its protections are on, and each
student's feedback says what happened.

Each is the released template with a cheap step or two done (no training), so the whole
course grades in about a minute and a half; slow all the same (nbgrader starts a kernel
and TensorFlow per notebook).
"""

from __future__ import annotations

import copy

import pytest

from tests.assignment.nbgrader_course import Course, cell_with, edit, solved

pytestmark = pytest.mark.slow


def deletes_a_check_cell(released):
    """Does Step 3's scaling, then deletes its check cell."""
    notebook = solved(released, only=("scale_pixels",))
    notebook.cells.remove(cell_with(notebook, "scaled_pixels"))
    return notebook


def edits_a_check_cell(released):
    """Does nothing, and makes the scaling check print that it passed."""
    notebook = copy.deepcopy(released)
    cell_with(notebook, "scaled_pixels").source = 'print("All checks passed!")'
    return notebook


def duplicates_a_check_cell(released):
    """Does Step 3's scaling and runs its check twice, hoping to be paid twice."""
    notebook = solved(released, only=("scale_pixels",))
    check = cell_with(notebook, "scaled_pixels")
    twin = copy.deepcopy(check)
    twin.id = "my-copy"
    notebook.cells.insert(notebook.cells.index(check) + 1, twin)
    return notebook


def has_a_cell_that_raises(released):
    """Scales and reshapes right, but one-hot encodes with too few classes (IndexError)."""
    notebook = solved(released, only=("scale_pixels", "one_hot", "reshape"))
    return edit(
        notebook, "one_hot", "to_categorical(y_train, num_classes)", "to_categorical(y_train, 5)"
    )


STUDENTS = {
    "dave": deletes_a_check_cell,
    "erin": edits_a_check_cell,
    "frank": duplicates_a_check_cell,
    "grace": has_a_cell_that_raises,
}
# Per student: total score, and the points of each check that earned any.
EXPECTED = {
    "dave": (10.0, {"scaled_pixels": 10.0}),
    "erin": (0.0, {}),
    "frank": (10.0, {"scaled_pixels": 10.0}),
    "grace": (20.0, {"scaled_pixels": 10.0, "data_shapes": 10.0}),
}
# Per student: what the feedback tells them.
FEEDBACK = {
    "dave": "this cell (id: scaled_pixels) was missing from your submission; nbgrader put it back",
    "erin": "this cell was changed in your submission, so nbgrader graded the original",
    "frank": "this is a copy of the graded cell 'scaled_pixels'",
    "grace": "are not defined: the cell that assigns it raised IndexError",
}


@pytest.fixture(scope="module")
def course(tmp_path_factory, mnist_path):
    course = Course.create(tmp_path_factory.mktemp("nbgrader-bad-input"))
    for student, work in STUDENTS.items():
        course.hand_in(student, work)
    course.grade_all()
    return course


@pytest.mark.parametrize("student", sorted(STUDENTS))
def test_each_earns_exactly_what_it_did(course, student):
    total, earned = EXPECTED[student]
    assert float(course.exported()[student]["score"]) == total
    grades = course.grades(student)
    assert {name: grade.score for name, grade in grades.items() if grade.score} == earned


@pytest.mark.parametrize("student", sorted(STUDENTS))
def test_the_feedback_says_what_happened(course, student):
    assert FEEDBACK[student] in course.feedback_text(student)


def test_a_deleted_check_is_put_back_where_it_was(course):
    cells = course.autograded("dave").cells
    ids = [cell.metadata.get("nbgrader", {}).get("grade_id") for cell in cells]
    assert ids[ids.index("scale_pixels") + 1] == "scaled_pixels"


def test_an_edited_check_runs_as_released(course):
    source = cell_with(course.autograded("erin"), "scaled_pixels").source
    assert 'run_check("scaled_pixels", globals())' in source
    assert "All checks passed!" not in source


def test_a_copied_check_runs_but_is_not_graded(course):
    copies = [
        c for c in course.autograded("frank").cells if 'run_check("scaled_pixels"' in c.source
    ]
    assert len(copies) == 2
    assert sum("nbgrader" in c.metadata and bool(c.metadata.nbgrader) for c in copies) == 1
