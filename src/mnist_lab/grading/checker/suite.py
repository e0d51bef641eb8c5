"""The checks run by pytest, in the checker process: one pytest session per submission.

`Suite` imports every check file when the checker starts, before any notebook runs. pytest
then runs those modules as they were imported, never re-reading a file a notebook could have
written: each check file is collected through a stand-in (a copy in the checker's private
folder) whose module is the one imported at the start. pytest runs with no plugin autoload,
no conftest, no ini file but the checker's own, no cache and no assertion rewriting, so
nothing on disk changes how the checks run and a failed ``assert``'s message reaches the
student as written.

The kit's plugin (`_KitPlugin`) gives each check its fixtures (the grader's data and the
notebook's exported objects), turns each outcome into a `CheckResult` with the rubric's
points (`scoring`), and adds the points to each test case of pytest's own junit.xml.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import time
import types
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import pytest

from mnist_lab.grading.catalogue import Check, builtin_dir
from mnist_lab.grading.checker.artefacts import Missing
from mnist_lab.grading.results import CheckResult
from mnist_lab.grading.rubric import Rubric
from mnist_lab.grading.scoring import Feedback, MissingNames, score, verdict

logger = logging.getLogger(__name__)

PYTEST_ARGS = (
    "-p",
    "no:cacheprovider",  # no .pytest_cache
    # Unraisable exceptions as warnings, which are ignored here: each run would pay for
    # five full garbage collections of a heap that holds TensorFlow.
    "-p",
    "no:unraisableexception",
    "-p",
    "no:threadexception",
    "--noconftest",
    "--assert=plain",  # the assert's own message, no rewriting
    "--capture=sys",
    "-q",
    "-o",
    "junit_suite_name=mnist-lab",
    "-W",
    "ignore",
)


class CheckFileImportError(RuntimeError):
    """A check file could not be imported (the instructor's file, not the student's work)."""


class Suite:
    """Every check file of a rubric, imported now; `run` runs them over one submission."""

    def __init__(self, rubric: Rubric, folder: Path):
        self.rubric = rubric
        self.checks = rubric.catalogue
        self.folder = folder
        self.root = folder / "checks"
        self.root.mkdir(parents=True, exist_ok=True)
        (folder / "pytest.ini").write_text("[pytest]\n")
        self.modules: dict[Path, types.ModuleType] = {}  # stand-in file -> imported module
        self.stand_ins: dict[Path, Path] = {}  # check file -> its stand-in
        for index, path in enumerate(dict.fromkeys(check.path for check in self.checks)):
            stand_in = self._stand_in(path, index)
            self.modules[stand_in] = import_check_file(
                path, f"mnist_lab_checks.c{index}_{path.stem}"
            )
            self.stand_ins[path] = stand_in
        for check in self.checks:
            module = self.modules[self.stand_ins[check.path]]
            if not callable(getattr(module, check.function, None)):
                raise CheckFileImportError(
                    f"{check.path.name} defines no function {check.function} once imported."
                )

    def _stand_in(self, path: Path, index: int) -> Path:
        # An instructor's file sits beside the kit's (junit's classname is then its own
        # name), unless that name is taken: then in a folder of its own.
        taken = path.parent != builtin_dir() and (self.root / path.name).exists()
        folder = self.root / f"file{index}" if taken else self.root
        folder.mkdir(exist_ok=True)
        stand_in = folder / path.name
        stand_in.write_bytes(path.read_bytes())
        return stand_in

    @staticmethod
    def isolate_environment() -> None:
        """No plugin autoload and no options from the environment (the checker calls this)."""
        os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        for name in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS"):
            os.environ.pop(name, None)

    def run(
        self, artefacts: Mapping[str, object], junit: Path | None = None
    ) -> tuple[CheckResult, ...]:
        """Every check over ``artefacts`` (fixture name -> value or `Missing`), in order."""
        plugin = _KitPlugin(self, artefacts)
        args = [
            *PYTEST_ARGS,
            "-c",
            str(self.folder / "pytest.ini"),
            "--rootdir",
            str(self.root),
            *([f"--junitxml={junit}"] if junit is not None else []),
            *(str(path) for path in self.modules),
        ]
        started = time.perf_counter()
        code = pytest.main(args, plugins=[plugin, plugin.fixtures])
        logger.info(
            "pytest ran the checks in %.1f s (exit %s)", time.perf_counter() - started, code
        )
        results = []
        for check in self.checks:
            result = plugin.results.get(check.name)
            if result is None:
                result = score(
                    check,
                    self.rubric.checks[check.name],
                    verdict(check, RuntimeError("pytest did not run it"), None),
                    0.0,
                )
            results.append(result)
        return tuple(results)


def import_check_file(path: Path, name: str) -> types.ModuleType:
    """Import the check file at ``path`` as module ``name``, from its text read now."""
    try:
        source = path.read_text(encoding="utf-8")
        spec = importlib.util.spec_from_loader(name, loader=None, origin=str(path))
        module = importlib.util.module_from_spec(spec)
        module.__file__ = str(path)
        sys.modules[name] = module
        exec(compile(source, path.name, "exec"), module.__dict__)
    except Exception as error:
        sys.modules.pop(name, None)
        raise CheckFileImportError(
            f"The check file {path.name} could not be imported: {type(error).__name__}: "
            f"{error}. Fix the file (a check file may import the kit, NumPy, Keras and any "
            "installed library)."
        ) from error
    return module


class _Preloaded(pytest.Module):
    """A check file's module as imported when the checker started, never re-read."""

    preloaded: types.ModuleType

    def _getobj(self):
        return self.preloaded


class _KitPlugin:
    """Fixtures, outcomes and points for one pytest session over one submission."""

    def __init__(self, suite: Suite, artefacts: Mapping[str, object]):
        self.suite = suite
        self.artefacts = MappingProxyType(dict(artefacts))
        self.by_function = {
            (suite.stand_ins[check.path], check.function): check for check in suite.checks
        }
        self.results: dict[str, CheckResult] = {}
        self.feedback: dict[str, Feedback] = {}
        self.fixtures = self._fixture_module()

    def _fixture_module(self) -> types.ModuleType:
        module = types.ModuleType("mnist_lab_check_fixtures")
        names = {name for check in self.suite.checks for name in check.fixtures}
        for name in sorted(names - {"feedback"}):
            setattr(module, f"fixture_{name}", _value_fixture(name, self.artefacts))

        @pytest.fixture(name="feedback")
        def feedback(request):
            self.feedback[request.node.nodeid] = given = Feedback()
            return given

        module.fixture_feedback = feedback
        return module

    def _check(self, item) -> Check | None:
        return self.by_function.get((Path(item.path), getattr(item, "originalname", item.name)))

    @pytest.hookimpl(tryfirst=True)
    def pytest_pycollect_makemodule(self, module_path, parent):
        module = self.suite.modules.get(Path(module_path))
        if module is None:
            return None
        node = _Preloaded.from_parent(parent, path=Path(module_path))
        node.preloaded = module
        return node

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem):
        """Fail a check whose names are missing, with the reasons, before calling it."""
        arguments = pyfuncitem.funcargs
        missing = [
            arguments[name]
            for name in pyfuncitem._fixtureinfo.argnames
            if isinstance(arguments.get(name), Missing)
        ]
        if missing:
            raise MissingNames(missing)
        return None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        check = self._check(item)
        if check is None:
            return report
        if call.when == "call" or (call.when == "setup" and call.excinfo is not None):
            error = call.excinfo.value if call.excinfo is not None else None
            outcome = verdict(check, error, self.feedback.get(item.nodeid))
            spec = self.suite.rubric.checks[check.name]
            self.results[check.name] = result = score(check, spec, outcome, call.duration)
            if not result.passed and report.failed:
                report.longrepr = result.message
        if call.when == "teardown" and check.name in self.results:
            result = self.results[check.name]
            report.user_properties.extend(result.junit_properties())
            report.user_properties.append(("message", result.message))
        return report


def _value_fixture(name: str, artefacts: Mapping[str, object]):
    @pytest.fixture(name=name)
    def value():
        return artefacts.get(name, Missing(name, "was not exported"))

    return value
