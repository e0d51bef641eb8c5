"""Nothing a notebook does can raise its score: each hostile or broken fixture earns only
its honest points, and the grader says what happened.

The fixtures (tests/fixtures/submissions) print "passed", patch NumPy, scikit-learn, Keras
or builtins in the kernel, bind the lab's names to objects equal to everything, write fake
result or JUnit files (and leave a detached process rewriting them), read the rubric and
the checks' source, open network connections, save a model whose Lambda layer carries
code, exit or crash the kernel, have syntax errors or failing cells, tamper with nbgrader's
graded cells, or are old, empty or not notebooks at all. For every one: grading returns, a
valid results.json is written, it names what happened, and exactly the honest checks pass.
The fixtures graded with small limits, and the files that are not notebooks, are graded in
test_broken_submissions.py against the same tables.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mnist_lab.grading.catalogue import CHECK_NAMES
from mnist_lab.grading.results import GradingResults
from tests.fixtures.submissions import all_submissions, limit_submissions
from tests.fixtures.submissions.broken import DAMAGED, PREP_PASSES, UNREADABLE
from tests.grading.conftest import assert_gradescope_results, grade_as_ci

# The checks each hostile or broken notebook honestly passes; it must fail all the others.
HONEST_PASSES = {
    "prints_passed": set(),
    "always_equal_objects": set(),
    "writes_results_file": set(),
    # It loads, reshapes, builds and compiles correctly; it never scales, encodes or trains.
    "monkeypatches_libraries": {"data_shapes", "cnn_architecture", "compile_settings"},
    # It scales and encodes correctly before exiting; sys.exit only ends that cell.
    "exits_with_sys_exit": {"scaled_pixels", "one_hot_labels"},
    # os._exit kills the kernel before anything can be collected.
    "exits_with_os_exit": set(),
    # Files that are not notebooks, or hold no code: nothing runs.
    "invalid_json": set(),
    "not_a_notebook": set(),
    "empty_file": set(),
    "empty_notebook": set(),
    # Invalid JSON a tool or a hand edit left: repaired, then graded like any notebook.
    "missing_outputs": PREP_PASSES,
    "unknown_cell_type": PREP_PASSES,
    # Converted from nbformat 3, then graded like any notebook.
    "old_nbformat": PREP_PASSES,
    # The one-hot cell cannot run; the steps that do not need it are graded.
    "syntax_error": {"data_shapes", "scaled_pixels"},
    "exception_in_early_cell": PREP_PASSES,
    # A crashed kernel, like os._exit: nothing can be collected.
    "segfaults_kernel": set(),
    # The one-hot cell went with the deleted test cells; the test cells themselves count for
    # nothing, deleted, reordered or edited: `mnist-lab grade` checks the exported objects.
    "deletes_graded_cells": {"data_shapes", "scaled_pixels"},
    "reorders_cells": {"scaled_pixels", "one_hot_labels"},
    "edits_graded_cells": {"scaled_pixels"},
    # Its stand-in for the one-hot labels is refused by type, whatever isinstance says.
    "monkeypatches_builtins": {"data_shapes", "scaled_pixels"},
    "writes_fake_junit": PREP_PASSES,
    "reads_hidden_checks": {"scaled_pixels"},
    # Run as a user of its own, its kill(-1) reaches no process but its own children.
    "kills_every_process": PREP_PASSES,
    "opens_network_connection": PREP_PASSES,
    # The model cannot be loaded without running its Lambda's code, so the model checks fail.
    "lambda_layer_model": PREP_PASSES,
    # Interrupted at the cell time limit; the cells after it still run.
    "infinite_loop": PREP_PASSES,
    "output_flood": PREP_PASSES,
    # Still running after the interrupt: nothing after it can run, nothing is collected.
    "ignores_interrupts": set(),
    # Stopped at the memory or disk limit with everything it started: nothing is collected.
    "memory_bomb": set(),
    "fills_the_disk": set(),
}

# What the student is told (in results.json): a phrase that names what happened.
STUDENT_SEES = {
    "prints_passed": "Score: 0 / 100",
    "monkeypatches_libraries": "Score: 30 / 100",
    "always_equal_objects": "AlwaysEqual, not a NumPy array",
    "writes_results_file": "Score: 0 / 100",
    "exits_with_sys_exit": "SystemExit",
    "invalid_json": "could not be read as a Jupyter notebook",
    "not_a_notebook": "could not be read as a Jupyter notebook",
    "empty_file": "could not be read as a Jupyter notebook",
    "empty_notebook": "has no code cells: there is nothing to run",
    "old_nbformat": "is in an old format (nbformat 3); it was converted",
    "missing_outputs": "(code cells' missing execution_count added; missing or damaged outputs "
    "of code cells replaced); it was repaired to be graded",
    "unknown_cell_type": "(a cell of unknown type 'heading' became raw text); it was repaired",
    "syntax_error": "`y_train_onehot` and `y_test_onehot` are not defined: the cell that names it "
    "could not run, cell 4 (Fixture submission: syntax_error): SyntaxError",
    "exception_in_early_cell": "cell 3 (Fixture submission: exception_in_early_cell): "
    "IndexError: index 60000 is out of bounds",
    "segfaults_kernel": "killed by signal SIGSEGV (a segmentation fault",
    "exits_with_os_exit": "the kernel process ended itself with exit status 0",
    "deletes_graded_cells": "`y_train_onehot` and `y_test_onehot` are not defined: no cell of "
    "your notebook assigns them.",
    "reorders_cells": "`x_train_reshaped` and `x_test_reshaped` are not defined: cell 3 "
    "(Fixture submission: reorders_cells): NameError: name 'x_train_scaled' is not defined",
    "edits_graded_cells": "`model` is not defined: no cell of your notebook assigns it",
    "monkeypatches_builtins": "y_train_onehot is a __main__.ClaimsToBeAnything, not a NumPy array",
    "writes_fake_junit": "Score: 30 / 100",
    "reads_hidden_checks": "Score: 10 / 100",
    "kills_every_process": "Score: 30 / 100",
    "opens_network_connection": "Score: 30 / 100",
    "lambda_layer_model": "`model` was saved but could not be loaded safely (ValueError: "
    "Requested the deserialization of a `Lambda` layer",
    "infinite_loop": "cell 4 (Fixture submission: infinite_loop): CellTimeoutError: the cell "
    "ran past its time limit",
    "output_flood": "Cell(s) 4 printed more output than the grader keeps (5 MB per cell",
    "ignores_interrupts": "did not stop when interrupted, so the kernel could run nothing after it",
    "memory_bomb": "the notebook used more than 1536 MB of memory, the grader's limit",
    "fills_the_disk": "the notebook wrote more than 256 MB of files, the grader's limit",
}


def assert_graded_as_expected(name: str, results: GradingResults, out_dir: Path) -> None:
    """Exactly the honest checks pass, and a valid results.json tells the student what
    happened."""
    assert set(results.passed) == HONEST_PASSES[name], {
        check: results.check(check).message for check in results.passed
    }
    assert set(results.failed) == set(CHECK_NAMES) - HONEST_PASSES[name]
    written = json.loads((out_dir / "results.json").read_text())
    assert_gradescope_results(written)
    assert written["score"] == results.score
    told = written["output"] + "\n".join(test["output"] for test in written["tests"])
    assert STUDENT_SEES[name] in told, told


# The fixtures graded in the session's pool, with the tests' usual rubric.
POOLED = sorted(set(HONEST_PASSES) & set(all_submissions()))


def test_every_fixture_of_the_corpus_has_its_expected_outcome():
    assert set(HONEST_PASSES) == set(STUDENT_SEES)
    graded_as_files = set(UNREADABLE) | set(DAMAGED)
    assert set(HONEST_PASSES) <= set(all_submissions()) | set(limit_submissions()) | graded_as_files


@pytest.mark.parametrize("name", POOLED)
def test_a_hostile_notebook_earns_only_honest_points(grader, name):
    assert_graded_as_expected(name, grader.results(name), grader.out_dir(name))


def test_patched_keras_does_not_fool_the_accuracy_check(graded):
    message = graded("monkeypatches_libraries").check("test_accuracy").message
    accuracy = float(message.split("test images: ")[1].split(";")[0].split(" ")[0])
    assert accuracy < 0.5  # an untrained model, whatever the patched evaluate() said


def test_always_equal_objects_are_refused_with_their_type(graded):
    message = graded("always_equal_objects").check("scaled_pixels").message
    assert "AlwaysEqual, not a NumPy array" in message


@pytest.mark.parametrize("name", ["exits_with_os_exit", "segfaults_kernel"])
def test_a_killed_kernel_is_reported_to_the_student(graded, name):
    results = graded(name)
    assert [(error.cell_number, error.kind) for error in results.cell_errors] == [
        (6, "dead kernel")
    ]
    message = results.check("scaled_pixels").message
    assert "could not be collected" in message and STUDENT_SEES[name] in message


def test_the_graded_cells_a_student_edits_do_not_count(graded):
    """Edited test cells ran and "passed" in the kernel; the grader's checks still fail."""
    results = graded("edits_graded_cells")
    assert results.cell_errors == ()
    assert not results.check("cnn_architecture").passed


def test_sys_exit_is_an_error_in_one_cell_only(graded):
    results = graded("exits_with_sys_exit")
    assert [error.message.split(":")[0] for error in results.cell_errors] == ["SystemExit"]


def test_fake_result_files_are_replaced_and_stay_replaced(tmp_path):
    """Run `mnist-lab grade` as CI does; the notebook finds --out from the process tree."""
    out = grade_as_ci("writes_results_file", tmp_path)
    time.sleep(2)  # the detached writer rewrote every 0.5 s while it lived
    for name in ("results.json", "junit.xml", "feedback.md"):
        assert "HACKED" not in (out / name).read_text(), name
    assert json.loads((out / "results.json").read_text())["score"] == 0
