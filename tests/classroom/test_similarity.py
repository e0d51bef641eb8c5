"""Similar code between submissions, measured on a planted class (tests/fixtures/similarity.py):
every disguised copy is found, no independent solution is, nor the standard lines alone."""

from __future__ import annotations

import pytest

from mnist_lab.classroom import similarity
from mnist_lab.classroom.similarity import find_matches, prepare
from tests.fixtures.similarity import DISGUISES, INDEPENDENT, planted_class, template_cells


@pytest.fixture(scope="module")
def planted():
    return planted_class()


@pytest.fixture(scope="module")
def matches(planted):
    code, _ = planted
    return find_matches(code, template_cells())


def _pairs(matches):
    return {frozenset((match.first, match.second)) for match in matches}


def test_every_copy_is_found_and_nothing_else(planted, matches):
    _, copies = planted
    found = _pairs(matches)
    true_positives = len(found & copies)
    precision = true_positives / len(found)
    recall = true_positives / len(copies)
    assert (precision, recall) == (1.0, 1.0), sorted(map(sorted, found ^ copies))


@pytest.mark.parametrize("copy", sorted(DISGUISES))
def test_each_disguise_keeps_the_copy_far_above_the_threshold(matches, copy):
    source = DISGUISES[copy][0]
    match = next(m for m in matches if {m.first, m.second} == {copy, source})
    assert match.score >= 0.85, match.score


def test_independent_solutions_share_little(planted):
    code, _ = planted
    independent = {name: code[name] for name in INDEPENDENT}
    closest = find_matches(independent, template_cells(), threshold=0.01)
    assert all(match.shared < similarity.MIN_SHARED for match in closest)


def test_an_untouched_template_has_no_code_of_its_own(planted):
    code, _ = planted
    untouched = prepare("gus", code["gus_untouched_template"], template_cells())
    assert untouched.cells == [] and untouched.fingerprints == {}


def test_the_standard_lines_alone_are_never_a_match(planted):
    code, _ = planted
    pair = {name: code[name] for name in ("erik_standard_lines", "fay_standard_lines")}
    assert find_matches(pair, template_cells(), threshold=0.01) == []


def test_reordered_cells_are_matched_cell_to_cell(matches):
    match = next(m for m in matches if {m.first, m.second} == {"chen", "chen_reordered"})
    by_first = {cell_a: cell_b for cell_a, _, cell_b, _ in match.cells}
    assert len(by_first) >= 8
    assert any(a != b for a, b in by_first.items())  # the moved cells found where they went


def test_the_shared_lines_are_those_of_the_copied_code(planted, matches):
    code, _ = planted
    match = next(m for m in matches if {m.first, m.second} == {"dana", "dana_commented"})
    first, second = (match.first, match.second)
    for cell_a, lines_a, cell_b, lines_b in match.cells:
        text_a = code[first][cell_a - 1].splitlines()
        text_b = code[second][cell_b - 1].splitlines()
        commented_side = text_b if second == "dana_commented" else text_a
        lines = lines_b if second == "dana_commented" else lines_a
        assert all(1 <= line <= len(commented_side) for line in lines)
        assert not all(commented_side[line - 1].lstrip().startswith("#") for line in lines)


@pytest.mark.parametrize("threshold", [0, -0.5, 1.5])
def test_a_threshold_outside_0_1_is_refused(threshold):
    with pytest.raises(ValueError, match="expected a number in"):
        find_matches({}, threshold=threshold)


def test_cells_that_are_not_python_are_read_as_far_as_they_go():
    cells = ["%matplotlib inline\nx = [1, 2,", "!pip install nothing\ndef f(:\n  pass"]
    submission = prepare("broken", cells)
    assert submission.cells == cells  # no exception; whatever tokenised is kept
