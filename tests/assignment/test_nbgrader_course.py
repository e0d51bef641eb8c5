"""The lab through nbgrader for real, one course for every student: generate_assignment >
release > fetch and submit > collect > autograde > generate_feedback > export, on a
temporary course directory with a sqlite gradebook.

The round trip:

- alice hands in the solution: full marks, 100 of 100, plus the bonus's 10 of extra credit;
- bob hands in the template untouched: 0;
- carol forgets to scale the test images (``x_test_scaled = x_test``) and skips the bonus,
  as a student who skipped it would (its cell left as released): 100 - 10 = 90.

Submissions that break the rules, each the released template with a cheap step or two done
(no training): nbgrader's protections are on, and each student's feedback says what
happened (dave, erin, frank, grace).

Slow: autograding executes the full solution once (both models, about 5 minutes on 2 CPU
cores), carol's lab model (about 1 minute) and five notebooks that train nothing. The
whole course is graded once (`nbgrader_course`), and its tests run on one xdist worker.
"""

from __future__ import annotations

import copy

import pytest

from mnist_lab.assignment.points import nbgrader_points
from mnist_lab.grading.catalogue import CHECK_NAMES
from mnist_lab.grading.results import HIDDEN_MESSAGE
from mnist_lab.grading.rubric import load_rubric
from tests.assignment.nbgrader_course import Course, Grade, cell_with, edit, solved

pytestmark = pytest.mark.slow

# The round trip -------------------------------------------------------------------------


def planted_mistake(released):
    """The solution with the test images left unscaled, and the bonus skipped."""
    notebook = solved(released, skip=("improved_model",))
    return edit(
        notebook, "scale_pixels", "x_test_scaled = x_test / 255.0", "x_test_scaled = x_test"
    )


ROUND_TRIP = {"alice": solved, "bob": copy.deepcopy, "carol": planted_mistake}
SCORES = {"alice": 110.0, "bob": 0.0, "carol": 90.0}  # out of 100; alice's 10 extra credit
HIDDEN = ("scanned_digits",)
MANUAL_POINTS = load_rubric().manual_points  # the answers graded by hand


# Submissions that break the rules ----------------------------------------------------


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


BAD_INPUT = {
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
    "grace": "are not defined: the cell that assigns them raised IndexError",
}


# The course --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nbgrader_course(tmp_path_factory, mnist_path):
    course = Course.create(tmp_path_factory.mktemp("nbgrader-course"))
    for student, work in {**ROUND_TRIP, **BAD_INPUT}.items():
        course.hand_in(student, work)
    course.grade_all()
    return course


@pytest.fixture(scope="module")
def course(nbgrader_course):
    return nbgrader_course


@pytest.fixture(scope="module")
def rubric():
    return load_rubric()


def test_grades_csv_holds_the_exact_scores(course):
    rows = course.exported()
    everyone = {**SCORES, **{student: total for student, (total, _) in EXPECTED.items()}}
    assert {student: float(row["score"]) for student, row in rows.items()} == everyone
    # nbgrader's maximum: the checks' 100 and the answers graded by hand.
    assert {float(row["max_score"]) for row in rows.values()} == {100.0 + MANUAL_POINTS}


def test_written_answers_await_the_instructor_and_empty_ones_score_zero(course, rubric):
    """alice wrote every answer: each awaits manual grading, worth nothing until graded.
    bob left them as released: nbgrader scores them 0 and asks for no grading."""
    alice, bob = course.grades("alice"), course.grades("bob")
    for name, spec in rubric.manual.items():
        assert alice[name] == Grade(0.0, spec.points, 0.0, needs_manual_grade=True)
        assert bob[name] == Grade(0.0, spec.points, 0.0, needs_manual_grade=False)


def test_the_solution_earns_every_check_and_the_bonus(course, rubric):
    grades = course.grades("alice")
    assert {name: grade.score for name, grade in grades.items() if name in CHECK_NAMES} == {
        name: spec.points for name, spec in rubric.checks.items()
    }
    bonus = grades["improved_accuracy"]
    assert (bonus.max_score, bonus.extra_credit) == (0.0, 10.0)


def test_the_untouched_template_earns_nothing(course):
    assert {grade.score for grade in course.grades("bob").values()} == {0.0}


def test_the_planted_mistake_costs_only_its_check(course, rubric):
    grades = course.grades("carol")
    failed = {name for name, points in nbgrader_points(rubric).items() if points}
    failed -= {name for name, grade in grades.items() if grade.score == grade.max_score}
    assert failed == {"scaled_pixels"}
    assert grades["improved_accuracy"].extra_credit == 0.0
    feedback = course.feedback_text("carol")
    assert "Not passed (0 of 10 points)" in feedback
    assert "`x_test_scaled` holds uint8 values; expected floating-point numbers" in feedback


def test_tensorflow_noise_costs_no_points(course):
    """No test cell of the solution failed or wrote to stderr (nbgrader's zero)."""
    for cell in course.autograded("alice").cells:
        nbgrader = cell.metadata.get("nbgrader", {})
        if nbgrader.get("grade") and not nbgrader.get("solution"):
            kinds = {(o.output_type, o.get("name")) for o in cell.outputs}
            assert kinds <= {("stream", "stdout")}, (nbgrader["grade_id"], cell.outputs)


@pytest.mark.parametrize("student", sorted(ROUND_TRIP))
def test_the_feedback_never_shows_a_hidden_check(course, student):
    page = course.feedback(student)
    assert "HIDDEN TESTS" not in page
    for name in HIDDEN:
        assert f'run_check("{name}"' not in course.feedback_text(student)
    assert "supplied scans correctly" not in page  # the hidden check's own message
    passed = student != "bob"
    assert HIDDEN_MESSAGE[passed] in course.feedback_text(student)


def test_the_feedback_shows_each_visible_check(course):
    feedback = course.feedback_text("alice")
    assert feedback.count("Passed (") == len(CHECK_NAMES) - len(HIDDEN)
    assert f"(Score: 110.0 / {100.0 + MANUAL_POINTS})" in feedback


@pytest.mark.parametrize("student", sorted(BAD_INPUT))
def test_each_earns_exactly_what_it_did(course, student):
    total, earned = EXPECTED[student]
    assert float(course.exported()[student]["score"]) == total
    grades = course.grades(student)
    assert {name: grade.score for name, grade in grades.items() if grade.score} == earned


@pytest.mark.parametrize("student", sorted(BAD_INPUT))
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
