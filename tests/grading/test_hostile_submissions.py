"""Nothing a notebook does can raise its score: each hostile fixture earns only honest points.

The fixtures (tests/fixtures/submissions) print "passed", patch NumPy, scikit-learn and
Keras in the kernel, bind the lab's names to objects equal to everything, write fake result
files (and leave a detached process rewriting them), or exit early.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from mnist_lab.grading.checks import CHECK_NAMES

# The checks each hostile notebook honestly passes; it must fail all the others.
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
}


@pytest.mark.parametrize("name", sorted(HONEST_PASSES))
def test_a_hostile_notebook_earns_only_honest_points(graded, name):
    results = graded(name)
    assert set(results.passed) == HONEST_PASSES[name], {
        check: results.check(check).message for check in results.passed
    }
    assert set(results.failed) == set(CHECK_NAMES) - HONEST_PASSES[name]


def test_patched_keras_does_not_fool_the_accuracy_check(graded):
    message = graded("monkeypatches_libraries").check("test_accuracy").message
    accuracy = float(message.split("test images: ")[1].split(";")[0].split(" ")[0])
    assert accuracy < 0.5  # an untrained model, whatever the patched evaluate() said


def test_always_equal_objects_are_refused_with_their_type(graded):
    message = graded("always_equal_objects").check("scaled_pixels").message
    assert "AlwaysEqual, not a NumPy array" in message


def test_a_killed_kernel_is_reported_to_the_student(graded):
    results = graded("exits_with_os_exit")
    assert [error.kind for error in results.cell_errors] == ["dead kernel"]
    assert "could not be collected" in results.check("scaled_pixels").message


def test_sys_exit_is_an_error_in_one_cell_only(graded):
    results = graded("exits_with_sys_exit")
    assert [error.message.split(":")[0] for error in results.cell_errors] == ["SystemExit"]


def test_fake_result_files_are_replaced_and_stay_replaced(tmp_path):
    """Run `mnist-lab grade` as CI does; the notebook finds --out from the process tree."""
    from tests.fixtures import submissions

    notebook = tmp_path / "writes_results_file.ipynb"
    notebook.write_bytes(submissions.path("writes_results_file").read_bytes())
    out = tmp_path / "out"
    completed = subprocess.run(
        [sys.executable, "-m", "mnist_lab", "grade", str(notebook), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr
    time.sleep(2)  # the detached writer rewrote every 0.5 s while it lived
    for name in ("results.json", "junit.xml", "feedback.md"):
        assert "HACKED" not in (out / name).read_text(), name
    assert json.loads((out / "results.json").read_text())["score"] == 0
