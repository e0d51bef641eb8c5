"""`mnist-lab github-workflow`: the workflow parses, its commands parse, its steps work in bash.

The install, grade and score steps run here as GitHub runs them (``bash --noprofile --norc
-eo pipefail``): the install step puts the kit's wheel (from the autograder zip, as pip would
build it from the kit's repository) into a new virtualenv, not in editable mode, and the kit
installed there grades a notebook that fails in its first cell, in a temporary "repository",
with its own rubric and scans, with $GITHUB_STEP_SUMMARY and $GITHUB_OUTPUT pointing at
temporary files.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from mnist_lab.cli import build_parser, main
from mnist_lab.deploy.github import render_workflow
from mnist_lab.errors import LabError
from tests.deploy.conftest import (
    OFFLINE_PIP,
    QUICK_FAILURE,
    new_venv,
    quick_notebook,
    site_packages,
)
from tests.grading.conftest import assert_gradescope_results

KIT = "git+https://github.com/ORG/mnist-cnn-lab@v0.1.0"
RELEASE = "mnist-cnn-lab==0.1.0"
GITHUB_SHELL = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(render_workflow(KIT))


def steps(workflow: dict) -> list[dict]:
    return workflow["jobs"]["grade"]["steps"]


def step(workflow: dict, step_id: str) -> dict:
    (found,) = [item for item in steps(workflow) if item.get("id") == step_id]
    return found


def uses(workflow: dict, action: str) -> dict:
    (found,) = [item for item in steps(workflow) if item.get("uses", "").startswith(action)]
    return found


def test_it_runs_on_push_and_by_hand_on_ubuntu_with_python_3_11(workflow):
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(triggers) == {"push", "workflow_dispatch"}
    assert workflow["jobs"]["grade"]["runs-on"] == "ubuntu-latest"
    python = uses(workflow, "actions/setup-python@")["with"]
    assert python["python-version"] == "3.11" and python["cache"] == "pip"


def test_it_installs_the_kit_with_pip_not_in_editable_mode(workflow):
    environment = workflow["jobs"]["grade"]["env"]
    assert environment["MNIST_LAB_KIT"] == f"mnist-cnn-lab @ {KIT}"
    install = step(workflow, "install")["run"].splitlines()
    assert install[-1] == 'python -m pip install "$MNIST_LAB_KIT"'
    assert not any("--editable" in line or " -e " in line for line in install)


def test_mnist_is_cached_and_the_results_uploaded(workflow):
    cache = uses(workflow, "actions/cache@v4")["with"]
    assert cache["path"] == "~/.keras/datasets/mnist.npz"
    assert cache["path"].replace("~", "$HOME") in step(workflow, "mnist")["run"]
    upload = uses(workflow, "actions/upload-artifact@v4")
    assert upload["with"]["path"] == "grading-results/"
    assert upload["if"] == "${{ !cancelled() }}"  # kept when grading fails, too


def mnist_lab_commands(workflow: dict) -> list[list[str]]:
    commands = []
    for item in steps(workflow):
        for line in item.get("run", "").splitlines():
            words = shlex.split(line)
            if words and words[0] == "mnist-lab":
                commands.append(words[1:])
    return commands


def test_every_mnist_lab_command_line_parses(workflow):
    commands = mnist_lab_commands(workflow)
    assert commands, "the workflow runs no mnist-lab command"
    for arguments in commands:
        args = build_parser().parse_args(arguments)
        assert args.command == "grade" and str(args.out) == "grading-results"


KITS = {
    "a tag": (KIT, f"mnist-cnn-lab @ {KIT}"),
    "named already": (f"mnist-cnn-lab @ {KIT}", f"mnist-cnn-lab @ {KIT}"),
    "a branch and spaces": (f"  {KIT[:-7]}@main  ", f"mnist-cnn-lab @ {KIT[:-7]}@main"),
    "YAML's special characters": (
        "git+https://host/o/r.git@v1#egg=x'\"{}:[a]&*b",
        "mnist-cnn-lab @ git+https://host/o/r.git@v1#egg=x'\"{}:[a]&*b",
    ),
    "a release": (RELEASE, RELEASE),
    "a release, spelt otherwise": (" MNIST_CNN.Lab == 0.2.0rc1 ", "mnist-cnn-lab==0.2.0rc1"),
}


@pytest.mark.parametrize("case", KITS, ids=list(KITS))
def test_the_kit_requirement_reaches_pip_as_given(case):
    given, expected = KITS[case]
    environment = yaml.safe_load(render_workflow(given))["jobs"]["grade"]["env"]
    assert environment["MNIST_LAB_KIT"] == expected


NOT_A_KIT = "is neither a pinned release of the kit nor a repository URL"
REFUSED_KITS = {
    "empty": ("", "--kit is empty"),
    "blank": ("   ", "--kit is empty"),
    "a release not pinned": ("mnist-cnn-lab", NOT_A_KIT),
    "a range of releases": ("mnist-cnn-lab>=0.1", NOT_A_KIT),
    "another project": ("mnist-lab==0.1.0", NOT_A_KIT),
    "a line break": (f"{KIT}\n      run: curl evil", NOT_A_KIT),
    "a line break after a release": (f"{RELEASE}\n      run: curl evil", NOT_A_KIT),
}


@pytest.mark.parametrize("case", REFUSED_KITS, ids=list(REFUSED_KITS))
def test_a_kit_that_is_neither_a_release_nor_a_repository_is_refused(case):
    given, message = REFUSED_KITS[case]
    with pytest.raises(LabError, match=message) as raised:
        render_workflow(given)
    assert RELEASE in str(raised.value) and KIT in str(raised.value)  # what to give instead


def test_the_command_writes_the_workflow(tmp_path, capsys):
    out = tmp_path / ".github" / "workflows" / "grade.yml"
    assert main(["github-workflow", "--kit", KIT, "--out", str(out)]) == 0
    assert out.read_text() == render_workflow(KIT)
    assert str(out) in capsys.readouterr().out
    assert main(["github-workflow", "--kit", "", "--out", str(out)]) == 2
    assert "--kit is empty" in capsys.readouterr().err


@pytest.fixture(scope="module")
def runner_venv(tmp_path_factory, workflow, kit_wheel) -> Path:
    """The runner's Python after the workflow's install step, given the kit's wheel."""
    venv = new_venv(tmp_path_factory.mktemp("runner") / "venv")
    environment = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "MNIST_LAB_KIT": str(kit_wheel)}
    completed = subprocess.run(
        [*GITHUB_SHELL, "-c", step(workflow, "install")["run"]],
        env={**environment, **OFFLINE_PIP},
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return venv


def test_the_install_step_installs_the_wheel_s_kit(runner_venv):
    code = "import mnist_lab; print(mnist_lab.__file__)"
    python = runner_venv / "bin" / "python"
    location = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    assert Path(location.stdout.strip()).is_relative_to(site_packages(runner_venv))
    assert (runner_venv / "bin" / "mnist-lab").is_file()


@pytest.fixture
def repository(tmp_path, mnist_path) -> Path:
    """A student's repository with a notebook that fails at once, and a runner's HOME."""
    repo = tmp_path / "repo"
    quick_notebook(repo / "mnist_cnn_lab.ipynb")
    keras = tmp_path / "home" / ".keras" / "datasets"
    keras.mkdir(parents=True)
    (keras / "mnist.npz").symlink_to(mnist_path)  # as restored from the cache
    return repo


def run_steps(
    workflow: dict, venv: Path, repo: Path, step_ids: list[str]
) -> subprocess.CompletedProcess:
    """Run the steps' scripts with the job's environment and ``venv``'s kit, as a runner would."""
    environment = {
        **{key: os.environ[key] for key in ("LANG", "TMPDIR") if key in os.environ},
        **workflow["jobs"]["grade"]["env"],
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(repo.parent / "home"),
        "GITHUB_STEP_SUMMARY": str(repo.parent / "summary.md"),
        "GITHUB_OUTPUT": str(repo.parent / "output.txt"),
    }
    script = "\n".join(step(workflow, step_id)["run"] for step_id in step_ids)
    return subprocess.run(
        [*GITHUB_SHELL, "-c", script], cwd=repo, env=environment, capture_output=True, text=True
    )


def test_the_steps_grade_and_show_the_score_without_failing_the_job(
    workflow, runner_venv, repository
):
    completed = run_steps(workflow, runner_venv, repository, ["mnist", "grade", "score"])
    assert completed.returncode == 0, completed.stderr
    results = repository / "grading-results"
    data = json.loads((results / "results.json").read_text())
    assert_gradescope_results(data)
    ET.parse(results / "junit.xml")
    score = "Score: 0 / 100 (extra credit: 0 / 10)"
    summary = (repository.parent / "summary.md").read_text()
    assert summary == (results / "feedback.md").read_text()
    assert f"**{score}**" in summary and QUICK_FAILURE in summary
    assert f"::notice title=Score::{score}." in completed.stdout.splitlines()
    assert (repository.parent / "output.txt").read_text() == f"score={score}.\n"


def test_the_job_fails_when_the_grader_cannot_grade(workflow, runner_venv, repository):
    (repository.parent / "home" / ".keras" / "datasets" / "mnist.npz").unlink()
    completed = run_steps(workflow, runner_venv, repository, ["grade"])
    assert completed.returncode == 2
    assert "found none at" in completed.stderr
