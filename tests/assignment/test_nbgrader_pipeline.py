"""The kit's nbgrader pipeline: its preprocessors, its config and the course directory."""

from __future__ import annotations

import copy
import re
import shutil

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from nbgrader.preprocessors import IgnorePattern
from nbgrader.utils import determine_grade
from traitlets.config import Config

from mnist_lab.assignment import ASSIGNMENT_ID, TEMPLATE_NOTEBOOK
from mnist_lab.assignment.course import CONFIG_NAME, STUDENT_CONFIG_NAME, make_course
from mnist_lab.assignment.pipeline import (
    AUTOGRADE,
    FEEDBACK,
    GENERATE_ASSIGNMENT,
    TENSORFLOW_NOISE,
    configure,
)
from mnist_lab.assignment.preprocessors import (
    AwardExtraCredit,
    HideHiddenTests,
    IdentityPlaceholders,
    NoteDuplicatedCells,
)
from mnist_lab.grading.results import HIDDEN_MESSAGE
from mnist_lab.grading.rubric import load_rubric
from mnist_lab.paths import SOLUTION_NOTEBOOK
from tests.assignment.nbgrader_course import Course

# What TensorFlow 2.21 wrote to stderr in this project's runs, word for word.
TENSORFLOW_LINES = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1795287108.647474    4463 port.cc:153] oneDNN custom operations are on. "
    "You may see slightly different numerical results due to floating-point round-off "
    "errors from different computation orders.\n",
    "E0000 00:00:1795287117.096911    4463 node_def_util.cc:682] NodeDef mentions attribute "
    "use_unbounded_threadpool which is not in the op definition\n",
    "/venv/lib/python3.11/site-packages/keras/src/layers/core/dense.py:93: UserWarning: Do "
    "not pass an `input_shape`/`input_dim` argument to a layer.\n",
]


def graded_cell(
    grade_id: str, source: str, outputs: list, points: float = 10
) -> nbformat.NotebookNode:
    cell = new_code_cell(source, outputs=outputs)
    cell.metadata["nbgrader"] = {
        "grade": True,
        "grade_id": grade_id,
        "locked": True,
        "points": points,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }
    return cell


def stderr(text: str):
    return new_output("stream", name="stderr", text=text)


@pytest.fixture
def config():
    return configure(Config())


@pytest.mark.parametrize("text", TENSORFLOW_LINES)
def test_tensorflow_noise_on_stderr_costs_no_points(config, text):
    cell = graded_cell("test_accuracy", "run_check(...)", [stderr(text)])
    assert determine_grade(cell) == (0, 10)  # nbgrader's own rule: stderr is a failure
    notebook, _ = IgnorePattern(config=config)(new_notebook(cells=[cell]), {})
    assert determine_grade(notebook.cells[0]) == (10, 10)


def test_other_stderr_still_fails_a_test(config):
    cell = graded_cell("test_accuracy", "run_check(...)", [stderr("my own error message\n")])
    notebook, _ = IgnorePattern(config=config)(new_notebook(cells=[cell]), {})
    assert determine_grade(notebook.cells[0]) == (0, 10)
    assert re.search(TENSORFLOW_NOISE, "my own error message") is None


@pytest.mark.parametrize("passed", [True, False])
def test_the_feedback_shows_a_hidden_test_passed_or_failed_only(passed):
    source = (
        "# Hidden check: enough scans.\n### BEGIN HIDDEN TESTS\n"
        'secret = run_check("scanned_digits", globals())\n### END HIDDEN TESTS'
    )
    error = new_output("error", ename="AssertionError", evalue="29 of 50 scans", traceback=[source])
    outputs = [new_output("stream", name="stdout", text="Passed (5 of 5 points). 49 of 50")]
    cell = graded_cell("scanned_digits", source, outputs if passed else [error], points=5)
    notebook, _ = HideHiddenTests()(new_notebook(cells=[cell]), {})
    shown = nbformat.writes(notebook)
    assert "secret" not in shown and "HIDDEN" not in shown and "of 50" not in shown
    assert notebook.cells[0].source == "# Hidden check: enough scans."
    assert notebook.cells[0].outputs[0].text == HIDDEN_MESSAGE[passed] + "\n"


def test_visible_tests_are_shown_as_they_ran():
    cell = graded_cell("scaled_pixels", "run_check(...)", [stderr("x")])
    notebook, _ = HideHiddenTests()(new_notebook(cells=[copy.deepcopy(cell)]), {})
    assert notebook.cells[0] == cell


def test_the_template_gets_placeholders_for_the_name_and_register_number():
    identity = new_code_cell("STUDENT_NAME = \"Ada Lovelace\"\nREGISTER_NUMBER = '2122'\nprint(1)")
    managed = graded_cell("data_shapes", 'STUDENT_NAME = "kept"', [])
    notebook, _ = IdentityPlaceholders()(new_notebook(cells=[identity, managed]), {})
    assert notebook.cells[0].source == 'STUDENT_NAME = "..."\nREGISTER_NUMBER = "..."\nprint(1)'
    assert notebook.cells[1].source == 'STUDENT_NAME = "kept"'


def test_a_copied_graded_cell_is_ungraded_and_says_so():
    original = graded_cell("scaled_pixels", "check()", [])
    copies = [copy.deepcopy(original) for _ in range(2)]
    copies[1].id = "the-copy"
    notebook = new_notebook(cells=[copies[0], new_markdown_cell("text"), copies[1]])
    notebook, _ = NoteDuplicatedCells()(notebook, {})
    first, _, last = notebook.cells
    assert "nbgrader" not in first.metadata  # not an empty entry: OverwriteCells reads it
    assert first.source.startswith("# Note from the grader: this is a copy of the graded cell")
    assert last.metadata.nbgrader["grade_id"] == "scaled_pixels" and last.source == "check()"


def test_the_config_sets_the_kits_pipelines_and_the_rubrics_limits(config):
    assert config.GenerateAssignment.preprocessors == GENERATE_ASSIGNMENT
    assert config.Autograde.autograde_preprocessors == AUTOGRADE
    assert config.GenerateFeedback.preprocessors == FEEDBACK
    assert config.Execute.timeout == load_rubric().limits.cell_timeout_s
    assert config.NoteRestoredCells.add_missing_cells is True
    assert config.IgnorePattern.enabled is True
    assert AUTOGRADE.index(AwardExtraCredit) > AUTOGRADE.index(IgnorePattern)


def test_the_course_directory_holds_the_solution_and_a_config(tmp_path):
    source = make_course(tmp_path / "course", course_id="cs101")
    assert source == tmp_path / "course" / "source" / ASSIGNMENT_ID / f"{ASSIGNMENT_ID}.ipynb"
    assert source.read_bytes() == SOLUTION_NOTEBOOK.read_bytes()
    config = (tmp_path / "course" / CONFIG_NAME).read_text()
    assert "c.CourseDirectory.course_id = 'cs101'" in config and "configure(c)" in config
    (tmp_path / "course" / CONFIG_NAME).write_text("# the instructor's own\n")
    make_course(tmp_path / "course")
    assert (tmp_path / "course" / CONFIG_NAME).read_text() == "# the instructor's own\n"


def test_students_nbgrader_reads_the_course_and_a_cell_time_limit_that_lets_validate_train(
    tmp_path, monkeypatch
):
    """nbgrader's own ValidateApp, as a student runs it in their folder, with the students'
    settings as their ~/.jupyter/nbgrader_config.py: nbgrader's 30 s default is replaced."""
    from nbgrader.apps import ValidateApp

    make_course(tmp_path / "course", course_id="cs101", exchange=tmp_path / "xchg")
    (tmp_path / "jupyter").mkdir()
    shutil.copy(tmp_path / "course" / STUDENT_CONFIG_NAME, tmp_path / "jupyter" / CONFIG_NAME)
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "jupyter"))  # ~/.jupyter
    monkeypatch.chdir(tmp_path)
    app = ValidateApp()
    app.load_config_file()
    assert app.config.Execute.timeout == load_rubric().limits.cell_timeout_s > 30
    assert app.config.CourseDirectory.course_id == "cs101"
    assert app.config.Exchange.root == str(tmp_path / "xchg")
    text = (tmp_path / "course" / STUDENT_CONFIG_NAME).read_text()
    assert "mnist_lab" not in text.split('"""')[-1]  # needs nothing but nbgrader
    # Made anew from the arguments: a course moved to another exchange gets the new one.
    make_course(tmp_path / "course", course_id="cs101", exchange=tmp_path / "moved")
    moved = (tmp_path / "course" / STUDENT_CONFIG_NAME).read_text()
    assert f"c.Exchange.root = {str(tmp_path / 'moved')!r}" in moved


@pytest.mark.parametrize("exchange", [None, "shared-exchange"])
def test_the_course_command_tells_students_where_the_exchange_is(tmp_path, capsys, exchange):
    from mnist_lab.cli import main

    arguments = ["-q", "nbgrader-course", str(tmp_path / "course")]
    arguments += ["--exchange", str(tmp_path / exchange)] if exchange else []
    assert main(arguments) == 0
    where = tmp_path / (exchange or "course/exchange")
    out = capsys.readouterr().out
    assert f"--Exchange.root={where}" in out and "--course mnist-lab" in out
    assert f"{tmp_path / 'course' / STUDENT_CONFIG_NAME} to /etc/jupyter/nbgrader_config.py" in out
    assert f"c.Exchange.root = {str(where)!r}" in (tmp_path / "course" / CONFIG_NAME).read_text()


def test_nbgrader_generate_assignment_releases_the_committed_template(tmp_path):
    course = Course.create(tmp_path)
    assert course.released() == nbformat.read(TEMPLATE_NOTEBOOK, 4)
