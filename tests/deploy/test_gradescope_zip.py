"""`mnist-lab gradescope-zip`: the zip's members, their permissions and contents, and its errors."""

from __future__ import annotations

import hashlib
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from mnist_lab.cli import main
from mnist_lab.deploy import template
from mnist_lab.deploy.gradescope import build_gradescope_zip, rubric_members
from mnist_lab.errors import LabError
from mnist_lab.grading.rubric import DEFAULT_RUBRIC, load_rubric
from mnist_lab.paths import sample_images_dir
from mnist_lab.scans import read_manifest

SCRIPTS = ("setup.sh", "run_autograder")


def zip_entries(archive: Path) -> dict[str, zipfile.ZipInfo]:
    with zipfile.ZipFile(archive) as opened:
        return {info.filename: info for info in opened.infolist()}


def read_member(archive: Path, name: str) -> bytes:
    with zipfile.ZipFile(archive) as opened:
        return opened.read(name)


def wheel_name(archive: Path) -> str:
    (name,) = [name for name in zip_entries(archive) if name.endswith(".whl")]
    return name


def test_the_zip_holds_the_scripts_the_kit_rubric_mnist_and_scans(autograder_zip):
    samples = sample_images_dir()
    scans = {f"sample_images/{sample.path.name}" for sample in read_manifest(samples)}
    expected = {*SCRIPTS, "rubric.toml", "mnist.npz", "sample_images/labels.csv", *scans}
    names = set(zip_entries(autograder_zip))
    assert names - {wheel_name(autograder_zip)} == expected
    assert re.fullmatch(r"mnist_cnn_lab-0\.1\.0-py3-none-any\.whl", wheel_name(autograder_zip))


@pytest.mark.parametrize("name", SCRIPTS)
def test_the_scripts_are_at_the_root_and_executable(autograder_zip, name):
    info = zip_entries(autograder_zip)[name]
    assert info.create_system == 3  # Unix: unzip applies the mode
    assert info.external_attr >> 16 == 0o100755
    assert read_member(autograder_zip, name) == template(name)
    assert read_member(autograder_zip, name).startswith(b"#!/usr/bin/env bash\n")


def test_data_files_are_not_executable(autograder_zip):
    modes = {
        name: info.external_attr >> 16
        for name, info in zip_entries(autograder_zip).items()
        if name not in SCRIPTS
    }
    assert set(modes.values()) == {0o100644}


def test_the_rubric_mnist_and_scans_are_copied_byte_for_byte(autograder_zip, mnist_path):
    assert read_member(autograder_zip, "rubric.toml") == DEFAULT_RUBRIC.read_bytes()
    digest = hashlib.sha256(read_member(autograder_zip, "mnist.npz")).hexdigest()
    assert digest == hashlib.sha256(mnist_path.read_bytes()).hexdigest()
    samples = sample_images_dir()
    for name in ("labels.csv", read_manifest(samples)[0].path.name):
        assert read_member(autograder_zip, f"sample_images/{name}") == (samples / name).read_bytes()


def test_the_wheel_carries_the_package_its_templates_and_its_command(autograder_zip, tmp_path):
    wheel = tmp_path / wheel_name(autograder_zip)
    wheel.write_bytes(read_member(autograder_zip, wheel.name))
    with zipfile.ZipFile(wheel) as opened:
        names = set(opened.namelist())
        entry_points = opened.read("mnist_cnn_lab-0.1.0.dist-info/entry_points.txt").decode()
    for module in (
        "cli",
        "grading/grade",
        "grading/checker/__main__",
        "grading/kernel/export",
        "deploy/autograder",
    ):
        assert f"mnist_lab/{module}.py" in names
    for name in ("setup.sh", "run_autograder", "grade.yml"):
        assert f"mnist_lab/deploy/templates/{name}" in names
    assert not any("__pycache__" in name for name in names)
    assert "mnist-lab = mnist_lab.cli:main" in entry_points


def test_setup_sh_installs_the_kit_from_the_wheel(installed_kit):
    python = installed_kit / "venv" / "bin" / "python"
    code = "import mnist_lab.deploy.autograder as m; print(m.__file__)"
    location = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    assert Path(location.stdout.strip()).is_relative_to(installed_kit / "venv")
    version = subprocess.run([installed_kit / "venv" / "bin" / "mnist-lab", "--version"])
    assert version.returncode == 0


def test_the_command_prints_what_went_in_and_its_size(zip_build):
    archive, printed = zip_build
    assert f"Wrote {archive} (12." in printed  # MB: MNIST is 11.5 MB of it
    for line in ("setup.sh", "run_autograder", "rubric.toml", "mnist.npz"):
        assert re.search(rf"^  {re.escape(line)} +\d+(\.\d)? (B|kB|MB)$", printed, re.M), line
    assert re.search(r"^  sample_images/ +\d+\.\d kB  \(51 files\)$", printed, re.M)
    limits = load_rubric().limits
    minutes = (limits.notebook_timeout_s + 2 * limits.checker_timeout_s + 59) // 60
    assert f"a timeout above {minutes} minutes" in printed
    assert f"more than {limits.memory_limit_mb} MB of memory" in printed


@pytest.fixture
def previous_zip(tmp_path) -> Path:
    out = tmp_path / "autograder.zip"
    out.write_bytes(b"the previous build")
    return out


def bad_labels(folder: Path) -> Path:
    folder.mkdir()
    (folder / "labels.csv").write_text("file,label\nseven.png,12\n")
    return folder


BAD_INPUTS = {
    "no MNIST file": (
        {"mnist_path": "missing/mnist.npz"},
        r"Cannot put \S*missing/mnist\.npz in the autograder zip: No MNIST file",
    ),
    "not an npz file": (
        {"mnist_path": "rubric.toml"},
        r"Could not read .*rubric\.toml as an \.npz file",
    ),
    "invalid scans": ({"samples_dir": "bad_scans"}, r"label 12|seven\.png"),
    "invalid rubric": ({"rubric": "rubric.toml"}, r"rubric\.toml"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_stops_the_build_and_keeps_the_previous_zip(case, tmp_path, previous_zip):
    arguments, message = BAD_INPUTS[case]
    (tmp_path / "rubric.toml").write_text("[limits]\ncell_timeout_s = -1\n")
    bad_labels(tmp_path / "bad_scans")
    arguments = {key: tmp_path / value for key, value in arguments.items()}
    with pytest.raises(LabError, match=message):
        build_gradescope_zip(out=previous_zip, **arguments)
    assert previous_zip.read_bytes() == b"the previous build"
    assert [path.name for path in tmp_path.iterdir() if "partial" in path.name] == []


def test_the_command_exits_2_with_the_fix_when_there_is_no_mnist(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MNIST_PATH")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    out = tmp_path / "autograder.zip"
    assert main(["gradescope-zip", "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "No local mnist.npz" in error and "--mnist PATH" in error
    assert not out.exists()


def test_a_rubric_s_check_files_go_beside_it_in_the_zip(tmp_path):
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "mine.py").write_text('def test_mine(model):\n    """Mine."""\n')
    text = DEFAULT_RUBRIC.read_text().replace(
        "check_files = []", 'check_files = ["checks/mine.py"]'
    )
    (tmp_path / "rubric.toml").write_text(text + "[checks.mine]\npoints = 1\n")
    members = {member.name: member.data for member in rubric_members(tmp_path / "rubric.toml")}
    assert members == {
        "rubric.toml": (tmp_path / "rubric.toml").read_bytes(),
        "checks/mine.py": (tmp_path / "checks" / "mine.py").read_bytes(),
    }


def test_a_check_file_outside_the_rubric_s_folder_is_refused_for_the_zip(tmp_path):
    (tmp_path / "mine.py").write_text('def test_mine(model):\n    """Mine."""\n')
    (tmp_path / "course").mkdir()
    text = DEFAULT_RUBRIC.read_text().replace("check_files = []", 'check_files = ["../mine.py"]')
    (tmp_path / "course" / "rubric.toml").write_text(text + "[checks.mine]\npoints = 1\n")
    with pytest.raises(LabError, match=r"outside the rubric's folder"):
        rubric_members(tmp_path / "course" / "rubric.toml")
