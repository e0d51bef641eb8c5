"""The rest of the broken and hostile corpus: limits, files that are not notebooks, and proofs.

- Notebooks that run into a limit are graded with small ones (`LIMITS`: 10 s a cell, 1.5 GB
  of memory, 256 MB of files) by a checker of their own, so that a loop or a bomb costs seconds.
- Files that are not notebooks are graded zero with the reason; no kernel starts.
- A model's Lambda layer never runs in the checker; fake JUnit files and folders in the
  grader's --out folder are replaced by the grader's own files.

Each outcome is checked against the tables of test_hostile_submissions.py.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest

from mnist_lab.grading.grade import Checker, grade_submission, write_results
from mnist_lab.grading.results import GradingResults
from mnist_lab.grading.scoring import all_failed
from tests.fixtures import submissions
from tests.fixtures.submissions.broken import DAMAGED, LAMBDA_MARKERS, OLD_FORMATS, UNREADABLE
from tests.grading.conftest import grade_as_ci
from tests.grading.test_hostile_submissions import assert_graded_as_expected

# Small enough to keep the test short, large enough for the data steps on a busy machine.
LIMITS = {
    "cell_timeout_s": 10,
    "notebook_timeout_s": 120,
    "memory_limit_mb": 1536,
    "disk_limit_mb": 256,
}
# Markers older than the test session are not this session's.
SESSION_START = time.time()


def grade_copy(name: str, folder: Path, **options):
    """Grade a copy of the fixture ``name`` in ``folder``; the results and the out folder."""
    notebook = Path(shutil.copy(submissions.path(name), folder / f"{name}.ipynb"))
    out_dir = folder / "out"
    return grade_submission(notebook, out_dir=out_dir, **options), out_dir


@pytest.fixture(scope="module")
def at_the_limits(tiny_rubric, mnist_path, tmp_path_factory):
    """Grades a fixture with `LIMITS` on first use: its results, out folder and seconds."""
    rubric = replace(tiny_rubric, limits=replace(tiny_rubric.limits, **LIMITS))
    graded: dict[str, tuple] = {}
    with Checker.start(rubric, mnist_path=mnist_path) as checker:
        checker.wait_ready(rubric.limits.checker_timeout_s)  # not part of any one grading

        def grade(name: str):
            if name not in graded:
                started = time.monotonic()
                results, out_dir = grade_copy(name, tmp_path_factory.mktemp(name), checker=checker)
                graded[name] = (results, out_dir, time.monotonic() - started)
            return graded[name]

        yield grade


@pytest.mark.parametrize("name", sorted(submissions.limit_submissions()))
def test_a_notebook_at_a_limit_is_stopped_and_graded(at_the_limits, name):
    results, out_dir, seconds = at_the_limits(name)
    assert_graded_as_expected(name, results, out_dir)
    assert seconds < 60  # one cell's limit, not the notebook's (120 s)


def test_a_flood_keeps_its_later_cells_and_is_noted_once(at_the_limits):
    results, _, _ = at_the_limits("output_flood")
    assert [(error.cell_number, error.kind) for error in results.cell_errors] == [(4, "timeout")]
    assert len(results.notes) == 1


def test_a_memory_bomb_is_reported_in_the_cell_that_ran_it(at_the_limits):
    results, _, _ = at_the_limits("memory_bomb")
    assert [(error.cell_number, error.kind) for error in results.cell_errors] == [
        (6, "dead kernel")
    ]
    message = results.cell_errors[0].message
    assert "Use less memory" in message and "MB when it was stopped" in message


def test_a_notebook_filling_the_disk_is_stopped_in_the_cell_that_wrote(at_the_limits):
    results, _, _ = at_the_limits("fills_the_disk")
    assert [(error.cell_number, error.kind) for error in results.cell_errors] == [
        (6, "dead kernel")
    ]
    message = results.cell_errors[0].message
    assert "MB when it was stopped" in message and "do not write data" in message
    used_mb = int(message.split("(")[1].split(" MB when")[0])
    # Stopped within seconds of writing (about 1 s on an idle machine); the other tests'
    # load can delay the once-a-second measurement by a few more.
    assert 256 <= used_mb < 2048  # over the limit, rounded down to whole MB


@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_a_file_that_is_not_a_notebook_is_graded_zero_with_the_reason(tmp_path, name):
    results, out_dir = grade_copy(name, tmp_path)
    assert_graded_as_expected(name, results, out_dir)
    assert "download it again from Jupyter" in results.checks[0].message


@pytest.mark.parametrize("name", sorted(DAMAGED))
def test_a_damaged_notebook_is_repaired_graded_and_the_student_told(tmp_path, tiny_checker, name):
    results, out_dir = grade_copy(name, tmp_path, checker=tiny_checker)
    assert_graded_as_expected(name, results, out_dir)
    assert results.cell_errors == ()


@pytest.mark.parametrize("name", sorted({**UNREADABLE, **DAMAGED}))
def test_the_byte_for_byte_fixture_matches_its_definition(name):
    assert submissions.path(name).read_bytes() == {**UNREADABLE, **DAMAGED}[name], (
        "Run `python -m tests.fixtures.submissions` to rewrite the fixture files."
    )


@pytest.mark.parametrize("name", sorted(submissions.limit_submissions()))
def test_the_limit_fixture_matches_its_definition(name):
    expected = submissions.limit_submissions()[name]
    assert submissions.same_cells(submissions.path(name), expected), (
        "Run `python -m tests.fixtures.submissions` to rewrite the fixture notebooks."
    )


@pytest.mark.parametrize("name", sorted(OLD_FORMATS))
def test_an_old_format_fixture_is_stored_in_that_format(name):
    version = nbformat.reader.read(submissions.path(name).open())["nbformat"]
    assert version == OLD_FORMATS[name]


def test_code_in_a_lambda_layer_runs_in_the_kernel_and_never_in_the_checker(graded):
    """The Lambda writes a marker naming its process each time it runs."""
    graded("lambda_layer_model")
    markers = LAMBDA_MARKERS
    written = [
        path.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        for path in markers.iterdir()
        if path.stat().st_mtime >= SESSION_START
    ]
    assert any("ipykernel_launcher" in command for command in written), written
    assert not any("mnist_lab.grading.checker" in command for command in written), written


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds --out through /proc")
def test_fake_junit_files_and_folders_in_the_out_folder_are_replaced(tmp_path):
    """Run `mnist-lab grade` as CI does; the notebook finds --out from the process tree."""
    out = grade_as_ci("writes_fake_junit", tmp_path, "lab.ipynb")
    assert (out / "junit.xml").is_file() and (out / "results.json").is_file()
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite.get("name") == "mnist-lab"  # pytest's, from the checker
    assert "HACKED" not in (out / "junit.xml").read_text()
    assert int(suite.get("failures")) == 8  # all but the three data checks
    assert json.loads((out / "results.json").read_text())["score"] == 30


def test_result_files_replace_folders_and_links_left_in_their_place(tmp_path, tiny_rubric):
    """What a notebook leaves where the result files go cannot stop or redirect them."""
    (tmp_path / "junit.xml").mkdir()
    (tmp_path / "junit.xml" / "HACKED").write_text("HACKED")
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("HACKED")
    (tmp_path / "results.json").symlink_to(elsewhere)
    results = GradingResults(all_failed(tiny_rubric, "Not run: a test."), "lab.ipynb")
    write_results(results, tmp_path)
    assert ET.parse(tmp_path / "junit.xml").getroot().tag == "testsuites"
    assert not (tmp_path / "results.json").is_symlink()
    assert json.loads((tmp_path / "results.json").read_text())["score"] == 0
    assert elsewhere.read_text() == "HACKED"
    assert not list(tmp_path.glob(".*partial"))
