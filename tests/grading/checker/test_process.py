"""The checker process from the grader's side (`grade.Checker`): its files and its end."""

from __future__ import annotations

from mnist_lab.grading.grade import Checker


def test_the_checkers_files_are_in_its_folder_and_go_with_it(mnist_path):
    checker = Checker.start(mnist_path=mnist_path)
    try:
        checker.wait_ready(300)
        # The suite's temporary folder (its copies of the check files), made at the start.
        made = [path.name for path in checker.folder.iterdir() if path.is_dir()]
        assert any(name.startswith("mnist-lab-checks-") for name in made), made
    finally:
        checker.close()
    assert checker.process.returncode is not None
    assert not checker.folder.exists()
