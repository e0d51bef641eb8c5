"""The rubric: the default file loads, and every kind of mistake in it is named clearly."""

from __future__ import annotations

import pytest

from mnist_lab.grading.catalogue import CHECK_NAMES
from mnist_lab.grading.rubric import DEFAULT_RUBRIC, RubricError, load_rubric


def test_the_default_rubric_covers_the_catalogue_with_the_labs_figures():
    rubric = load_rubric()
    assert list(rubric.checks) == list(CHECK_NAMES)
    assert rubric.thresholds.lab_accuracy == 0.98
    assert rubric.thresholds.improved_accuracy == 0.989
    assert rubric.thresholds.required_epochs == 5
    assert rubric.thresholds.min_parameters <= 176_170 <= rubric.thresholds.max_parameters
    regular = [spec.points for spec in rubric.checks.values() if not spec.extra_credit]
    assert sum(regular) == 100
    assert [n for n, spec in rubric.checks.items() if spec.extra_credit] == ["improved_accuracy"]
    assert rubric.limits.cell_timeout_s < rubric.limits.notebook_timeout_s


def test_the_rubric_round_trips_through_plain_data():
    from mnist_lab.grading.rubric import rubric_from_dict

    rubric = load_rubric()
    again = rubric_from_dict(rubric.to_dict(), source=rubric.source)
    assert again.to_dict() == rubric.to_dict()


# (what to change in the default file, a phrase the error must hold)
BROKEN = {
    "unknown key": (
        ("lab_accuracy = 0.98", "lab_accuracy = 0.98\nlab_acuracy = 0.9"),
        "lab_acuracy",
    ),
    "negative points": (("points = 20", "points = -20"), "checks.test_accuracy.points is -20"),
    "points as text": (("points = 20", 'points = "20"'), "expected a number of points"),
    "threshold above 1": (("lab_accuracy = 0.98", "lab_accuracy = 98"), "between 0 and 1"),
    "threshold below 0": (("lab_accuracy = 0.98", "lab_accuracy = -0.1"), "between 0 and 1"),
    "fraction as a boolean": (
        ("scanned_digits_fraction = 0.6", "scanned_digits_fraction = true"),
        "scanned_digits_fraction is True",
    ),
    "zero epochs": (("required_epochs = 5", "required_epochs = 0"), "required_epochs is 0"),
    "fractional epochs": (("required_epochs = 5", "required_epochs = 5.5"), "whole number"),
    "parameter range reversed": (
        ("min_parameters = 5_000", "min_parameters = 5_000_000"),
        "min_parameters (5000000) is larger",
    ),
    "zero timeout": (("cell_timeout_s = 900", "cell_timeout_s = 0"), "cell_timeout_s is 0"),
    "memory limit too small": (
        ("memory_limit_mb = 6144", "memory_limit_mb = 100"),
        "limits.memory_limit_mb is 100; expected a whole number of megabytes of at least 512",
    ),
    "memory limit as text": (
        ("memory_limit_mb = 6144", 'memory_limit_mb = "6 GB"'),
        "expected a whole number of megabytes",
    ),
    "disk limit too small": (
        ("disk_limit_mb = 1024", "disk_limit_mb = 10"),
        "limits.disk_limit_mb is 10; expected a whole number of megabytes of at least 64",
    ),
    "network as text": (
        ("network = false", 'network = "off"'),
        "limits.network is 'off'; expected true (the notebook may reach the network) or false",
    ),
    "bad visibility": (('visibility = "hidden"', 'visibility = "secret"'), "'secret'"),
    "extra credit as text": (("extra_credit = true", 'extra_credit = "yes"'), "true or false"),
    "unknown check": (("[checks.lab_outputs]", "[checks.lab_output]"), "[checks.lab_output]"),
    "missing table": (("[limits]", "[limit]"), "unknown key 'limit'"),
    "missing threshold": (("required_epochs = 5", ""), "thresholds.required_epochs is missing"),
    "not TOML": (("[limits]", "[limits"), "not valid TOML"),
    "check file that is not there": (
        ("check_files = []", 'check_files = ["mine.py"]'),
        "check_files names mine.py, but there is no such file",
    ),
    "check files as text": (
        ("check_files = []", 'check_files = "mine.py"'),
        "expected a list of file names",
    ),
    "partial credit at full marks": (
        (
            "lab_accuracy_partial_credit = [[0.97, 0.5]]",
            "lab_accuracy_partial_credit = [[0.98, 0.5]]",
        ),
        "not below lab_accuracy (0.98)",
    ),
    "partial credit of all the points": (
        (
            "lab_accuracy_partial_credit = [[0.97, 0.5]]",
            "lab_accuracy_partial_credit = [[0.97, 1]]",
        ),
        "[accuracy, fraction of the points] pairs",
    ),
    "manual answer with negative points": (
        ("[manual.result]\npoints = 5", "[manual.result]\npoints = -5"),
        "manual.result.points is -5",
    ),
    "manual answer with a key of a check": (
        ("[manual.result]\npoints = 5", '[manual.result]\npoints = 5\nvisibility = "hidden"'),
        "unknown key 'visibility'",
    ),
    "manual answer named as a check": (
        ("[manual.result]", "[manual.test_accuracy]"),
        "'test_accuracy' is also a check's name",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_rubric_is_refused_with_the_key_named(tmp_path, case):
    (old, new), phrase = BROKEN[case]
    text = DEFAULT_RUBRIC.read_text()
    assert old in text
    broken = tmp_path / "rubric.toml"
    broken.write_text(text.replace(old, new, 1))
    with pytest.raises(RubricError) as error:
        load_rubric(broken)
    assert phrase in str(error.value)
    assert str(broken) in str(error.value)


def test_the_manual_answers_are_apart_from_the_checks_points():
    rubric = load_rubric()
    assert set(rubric.manual) == {"problem_statement", "design_notes", "observations", "result"}
    assert rubric.manual_points == 25
    total = sum(spec.points for spec in rubric.checks.values() if not spec.extra_credit)
    assert total == 100  # the autograded 100, whatever the write-up is worth


def test_a_rubric_without_a_memory_limit_gets_the_default(tmp_path):
    from mnist_lab.grading.rubric import DEFAULT_MEMORY_LIMIT_MB

    rubric = tmp_path / "rubric.toml"
    rubric.write_text(DEFAULT_RUBRIC.read_text().replace("memory_limit_mb = 6144", ""))
    assert load_rubric(rubric).limits.memory_limit_mb == DEFAULT_MEMORY_LIMIT_MB == 6144


def test_a_rubric_without_a_disk_limit_gets_the_default(tmp_path):
    from mnist_lab.grading.rubric import DEFAULT_DISK_LIMIT_MB

    rubric = tmp_path / "rubric.toml"
    rubric.write_text(DEFAULT_RUBRIC.read_text().replace("disk_limit_mb = 1024", ""))
    assert load_rubric(rubric).limits.disk_limit_mb == DEFAULT_DISK_LIMIT_MB == 1024


def test_a_check_missing_from_the_rubric_is_named(tmp_path):
    text = DEFAULT_RUBRIC.read_text()
    start = text.index("[checks.compile_settings]")
    end = text.index("[checks.training_history]")
    broken = tmp_path / "rubric.toml"
    broken.write_text(text[:start] + text[end:])
    with pytest.raises(RubricError, match=r"'compile_settings' has no \[checks.compile_settings\]"):
        load_rubric(broken)


def test_a_missing_rubric_file_says_how_to_fix_it(tmp_path):
    with pytest.raises(RubricError, match="Pass --rubric PATH"):
        load_rubric(tmp_path / "nowhere.toml")


def test_a_rubric_without_a_network_setting_cuts_the_network(tmp_path):
    rubric = tmp_path / "rubric.toml"
    rubric.write_text(DEFAULT_RUBRIC.read_text().replace("network = false", ""))
    assert load_rubric(rubric).limits.network is False
    rubric.write_text(DEFAULT_RUBRIC.read_text().replace("network = false", "network = true"))
    assert load_rubric(rubric).limits.network is True


# (the check file's text, the extra rubric text, a phrase the error must hold)
OWN_CHECKS = {
    "a check without a table": ("def test_mine(model):\n    pass\n", "", "no [checks.mine] table"),
    "a table without a check": (
        "def test_mine(model):\n    pass\n",
        "[checks.mine]\npoints = 1\n[checks.yours]\npoints = 1\n",
        "[checks.yours] names no check",
    ),
    "not Python": ("def test_mine(model)\n    pass\n", "", "mine.py is not valid Python"),
    "no check in it": ("x = 1\n", "", "mine.py holds no check"),
    "a kit check's name": (
        "def test_data_shapes(model):\n    pass\n",
        "",
        "Two checks are called data_shapes",
    ),
}


@pytest.mark.parametrize("case", sorted(OWN_CHECKS))
def test_a_broken_check_file_is_refused_with_both_named(tmp_path, case):
    code, tables, phrase = OWN_CHECKS[case]
    (tmp_path / "mine.py").write_text(code)
    text = DEFAULT_RUBRIC.read_text().replace("check_files = []", 'check_files = ["mine.py"]')
    (tmp_path / "rubric.toml").write_text(text + tables)
    with pytest.raises(RubricError) as error:
        load_rubric(tmp_path / "rubric.toml")
    assert phrase in str(error.value)


def test_a_check_file_is_found_beside_the_rubric_and_its_checks_follow_the_kit_s(tmp_path):
    (tmp_path / "mine.py").write_text('def test_mine(model, feedback):\n    """Mine."""\n')
    text = DEFAULT_RUBRIC.read_text().replace("check_files = []", 'check_files = ["mine.py"]')
    (tmp_path / "rubric.toml").write_text(text + "[checks.mine]\npoints = 3\n")
    rubric = load_rubric(tmp_path / "rubric.toml")
    assert list(rubric.checks) == [*CHECK_NAMES, "mine"]
    (mine,) = [check for check in rubric.catalogue if not check.builtin]
    assert (mine.title, mine.fixtures, mine.notebook_names) == (
        "Mine",
        ("model", "feedback"),
        ("model",),
    )
