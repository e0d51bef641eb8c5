"""The checker's pytest run (`suite.Suite`): check files imported once, nothing read from disk.

The suite runs in this process here, over artefacts made in memory; the checker process runs
it the same way (tests/grading/test_check_files.py grades real notebooks with it).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

import pytest

from mnist_lab.grading.checker.artefacts import Missing
from mnist_lab.grading.checker.suite import CheckFileImportError, Suite
from mnist_lab.grading.rubric import DEFAULT_RUBRIC, load_rubric

CHECK_FILE = '''\
def test_motto(motto, feedback):
    """`motto` names the data set."""
    assert "MNIST" in motto, f"`motto` is {motto!r}; expected it to name MNIST."
    feedback.note("named")
'''
EDITED = '''\
def test_motto(motto, feedback):
    """`motto` names the data set."""
    feedback.note("edited after the start: a notebook changed the check")
'''


@pytest.fixture
def rubric(tmp_path):
    (tmp_path / "checks.py").write_text(CHECK_FILE)
    text = DEFAULT_RUBRIC.read_text().replace("check_files = []", 'check_files = ["checks.py"]')
    (tmp_path / "rubric.toml").write_text(text + "\n[checks.motto]\npoints = 2\n")
    return load_rubric(tmp_path / "rubric.toml")


def test_a_check_file_changed_after_the_start_changes_nothing(rubric, tmp_path):
    suite = Suite(rubric, tmp_path / "private")
    (tmp_path / "checks.py").write_text(EDITED)
    # beside the file pytest collects, and above it: neither is read
    for folder in (suite.root, tmp_path):
        (folder / "conftest.py").write_text("raise SystemExit('a conftest was read')\n")
        (folder / "tox.ini").write_text("[pytest]\naddopts = --this-option-does-not-exist\n")
    results = {r.name: r for r in suite.run({"motto": "Hello"}, tmp_path / "junit.xml")}
    assert not results["motto"].passed
    assert results["motto"].message == "`motto` is 'Hello'; expected it to name MNIST."
    # every other check failed on its missing names, each alone
    assert results["data_shapes"].message.startswith("`x_train`")
    assert not any(path.name == ".pytest_cache" for path in tmp_path.rglob("*"))


def test_junit_xml_is_pytest_s_with_the_rubric_s_points(rubric, tmp_path):
    suite = Suite(rubric, tmp_path / "private")
    suite.run({"motto": "MNIST digits"}, tmp_path / "junit.xml")
    suite_node = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    case = next(c for c in suite_node.iter("testcase") if c.get("name") == "test_motto")
    properties = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert properties["points"] == properties["max_points"] == "2"
    assert properties["message"] == "named" and case.find("failure") is None
    assert os.path.isabs(str(tmp_path)) and str(tmp_path) not in ET.tostring(suite_node, "unicode")


def test_a_missing_name_fails_its_check_alone_with_the_reason(rubric, tmp_path):
    suite = Suite(rubric, tmp_path / "private")
    missing = Missing("motto", "is not defined: no cell of your notebook assigns it")
    results = {r.name: r for r in suite.run({"motto": missing})}
    assert (
        results["motto"].message == "`motto` is not defined: no cell of your notebook assigns it."
    )


def test_a_check_file_that_cannot_be_imported_stops_the_checker_with_its_name(rubric, tmp_path):
    (tmp_path / "checks.py").write_text(
        "import no_such_module\n\ndef test_motto(motto):\n    pass\n"
    )
    with pytest.raises(CheckFileImportError, match=r"checks\.py could not be imported"):
        Suite(rubric, tmp_path / "private")
