"""The lab through nbgrader for real: generate_assignment > release > fetch and submit (three
students) > collect > autograde > generate_feedback > export, on a temporary course
directory with a sqlite gradebook.

- alice hands in the solution: full marks, 100 of 100, plus the bonus's 10 of extra credit;
- bob hands in the template untouched: 0;
- carol forgets to scale the test images (``x_test_scaled = x_test``) and skips the bonus,
  as a student who skipped it would (its cell left as released): 100 - 10 = 90.

Slow: autograding executes the full solution once (both models, about 5 minutes on 2 CPU
cores) and carol's lab model (about 1 minute).
"""

from __future__ import annotations

import copy

import pytest

from mnist_lab.assignment.points import nbgrader_points
from mnist_lab.grading.checks import CHECK_NAMES
from mnist_lab.grading.results import HIDDEN_MESSAGE
from mnist_lab.grading.rubric import load_rubric
from tests.assignment.nbgrader_course import Course, edit, solved

pytestmark = pytest.mark.slow


def planted_mistake(released):
    """The solution with the test images left unscaled, and the bonus skipped."""
    notebook = solved(released, skip=("improved_model",))
    return edit(
        notebook, "scale_pixels", "x_test_scaled = x_test / 255.0", "x_test_scaled = x_test"
    )


STUDENTS = {"alice": solved, "bob": copy.deepcopy, "carol": planted_mistake}
SCORES = {"alice": 110.0, "bob": 0.0, "carol": 90.0}  # out of 100; alice's 10 extra credit
HIDDEN = ("scanned_digits",)


@pytest.fixture(scope="module")
def course(tmp_path_factory, mnist_path):
    course = Course.create(tmp_path_factory.mktemp("nbgrader-round-trip"))
    for student, work in STUDENTS.items():
        course.hand_in(student, work)
    course.grade_all()
    return course


@pytest.fixture(scope="module")
def rubric():
    return load_rubric()


def test_grades_csv_holds_the_exact_scores(course):
    rows = course.exported()
    assert {student: float(row["score"]) for student, row in rows.items()} == SCORES
    assert {float(row["max_score"]) for row in rows.values()} == {100.0}


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


@pytest.mark.parametrize("student", sorted(STUDENTS))
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
    assert "(Score: 110.0 / 100.0)" in feedback
