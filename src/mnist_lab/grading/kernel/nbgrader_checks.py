"""The kit's checks as nbgrader test cells: one check, run on the notebook's live objects.

A test cell of the lab notebook runs::

    outcome = run_check("scaled_pixels", globals())
    assert outcome.passed, outcome.feedback

The check is the kit's own ``test_scaled_pixels`` (``autograder/test_data.py``), the very
function `mnist-lab grade` runs with pytest, called here directly, without pytest: its
fixtures are built from the kernel's objects instead of from exported files, and the points
come from the rubric. An instructor's own check (a rubric's ``check_files``) gets a cell
that holds its file's code and calls ``run_check(test_NAME, globals(), points=...)``. A
failed check fails the cell's assert with the check's message (nbgrader's failed test); a
passed one prints its message and points.

nbgrader gives zero to a test cell that writes anything to stderr, and TensorFlow logs
there when a check evaluates a model: a check runs with file descriptor 2, ``sys.stderr``
and warnings silenced.

`lab_outputs` reads what the notebook showed. On its first import in a Jupyter kernel this
module starts recording, for each cell the kernel runs afterwards, its source, what it
displayed or printed, and the error it raised; the lab's first test cell comes before the
cells that plot and print. The recording also says why a name is missing. Outside Jupyter
(the notebook's code run as a plain script) there are no outputs to read: such a check
says it was not checked, and passes.

This runs in the student's kernel, so a student could fool it; grading that must resist
that is `mnist-lab grade`'s job (see autograder/README.md).
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_notebook, new_output

from mnist_lab import contract
from mnist_lab.grading import scoring
from mnist_lab.grading.catalogue import PREFIX, Check, catalogue
from mnist_lab.grading.checker.artefacts import (
    NOT_DONE,
    ExportedArray,
    Missing,
    Reference,
    SavedModel,
    ScanOutput,
    Table,
    load_reference,
)
from mnist_lab.grading.checker.suite import import_check_file
from mnist_lab.grading.kernel import export
from mnist_lab.grading.results import CheckResult
from mnist_lab.grading.rubric import CheckSpec, Rubric, load_rubric
from mnist_lab.grading.sources import assigning_cells
from mnist_lab.paths import sample_images_dir
from mnist_lab.quiet import stderr_fd_silenced

# Rows of each array the array checks compare, picked once with a fixed seed.
SAMPLE_ROWS = 2_000
SAMPLE_SEED = 0


@dataclass(frozen=True)
class CellOutcome:
    """What a test cell asserts: whether the check passed, and what the student reads."""

    passed: bool  # all the points, or part of them (partial credit)
    feedback: str  # the points, then the check's message
    nbgrader_points: float | None = None  # partial credit, for nbgrader; None: all or none


def run_check(
    check: str | Callable,
    namespace: Mapping[str, object],
    *,
    points: float = 0.0,
    extra_credit: bool = False,
) -> CellOutcome:
    """Run a check on the objects in ``namespace`` (a notebook's ``globals()``).

    ``check`` names one of the kit's checks (its points come from the kit's rubric), or is
    an instructor's ``test_NAME`` function, worth ``points``. Prints the feedback when the
    check passes; the test cell asserts ``outcome.passed`` with ``outcome.feedback`` as the
    message, so that a failure shows the cell's own line.
    """
    found, function, spec = _resolve(check, points, extra_credit)
    if _recorder() is None and "notebook" in found.fixtures:
        # A script (the notebook's code run by plain Python) has no outputs to look at.
        feedback = f"Not checked: {found.title} (only in a Jupyter kernel)."
        print(feedback)
        return CellOutcome(True, feedback)
    result = _run(found, function, spec, namespace)
    extra = " of extra credit" if result.extra_credit else ""
    earned = f"{result.points:g} of {result.max_points:g} points{extra}"
    if result.points <= 0 and not result.passed:
        return CellOutcome(False, f"Not passed ({earned}): {result.title}.\n{result.message}")
    if not result.passed:  # partial credit: the cell passes, and shows nbgrader its points
        feedback = f"Partly passed. {result.message}"
        print(feedback)
        return CellOutcome(True, feedback, None if result.extra_credit else result.points)
    feedback = f"Passed ({earned}). {result.message}"
    print(feedback)
    return CellOutcome(True, feedback)


def check_result(name: str, namespace: Mapping[str, object]) -> CheckResult:
    """The kit's check ``name`` over ``namespace``, with the rubric's points."""
    found, function, spec = _resolve(name, 0.0, False)
    return _run(found, function, spec, namespace)


def _resolve(check, points: float, extra_credit: bool) -> tuple[Check, Callable, CheckSpec]:
    if callable(check):
        name = getattr(check, "__name__", "").removeprefix(PREFIX)
        title = ((check.__doc__ or name).strip().splitlines() or [name])[0].rstrip(".")
        fixtures = tuple(
            p.name
            for p in inspect.signature(check).parameters.values()
            if p.default is inspect.Parameter.empty
        )
        found = Check(name, title, Path("notebook"), fixtures)
        return found, check, CheckSpec(float(points), "visible", extra_credit)
    checks = _builtin()
    if check not in checks:
        raise ValueError(f"No check is called {check!r}; the checks are {', '.join(checks)}.")
    found = checks[check]
    return found, getattr(_module(found.path), found.function), _rubric().checks[check]


def _run(check: Check, function: Callable, spec: CheckSpec, namespace) -> CheckResult:
    started = time.perf_counter()
    with _quiet():
        exported = _Exported(namespace, _recorder())
        values = {name: _fixture(name, exported) for name in check.fixtures if name != "feedback"}
        verdict = scoring.call_check(check, function, values)
    return scoring.score(check, spec, verdict, time.perf_counter() - started)


def _fixture(name: str, exported: _Exported) -> object:
    if name == "exported":
        return exported
    if name == "mnist":
        return _reference()
    if name == "thresholds":
        return _rubric().thresholds
    if name == "notebook":
        if exported.recorder is None:
            return Missing("notebook", "can be read only in a Jupyter kernel")
        return exported.recorder.notebook()
    return exported[name]


@contextlib.contextmanager
def _quiet():
    """No stderr (TensorFlow's C++ lines, Python's warnings and logging) while a check runs."""
    with (
        stderr_fd_silenced(),
        contextlib.redirect_stderr(io.StringIO()),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        yield


@cache
def _rubric() -> Rubric:
    return load_rubric()


@cache
def _builtin() -> dict[str, Check]:
    return {check.name: check for check in catalogue()}


@cache
def _module(path: Path):
    return import_check_file(path, f"mnist_lab_checks.kernel_{path.stem}")


@cache
def _reference() -> Reference:
    return load_reference(None, sample_images_dir())


class _Exported(Mapping):
    """The notebook's objects as the checks receive them, converted on first use."""

    def __init__(self, namespace: Mapping[str, object], recorder: _Recorder | None):
        self.namespace, self.recorder = namespace, recorder
        self._values: dict[str, object] = {}

    def __getitem__(self, name: str) -> object:
        if name not in self._values:
            self._values[name] = self._convert(name)
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(contract.fixture_name(name) for name in contract.LAB_NAMES)

    def __len__(self) -> int:
        return len(contract.LAB_NAMES)

    def _convert(self, name: str) -> object:
        source = contract.notebook_name(name)
        if source not in self.namespace:
            return Missing(source, _why_missing(source, self.recorder))
        try:
            return _convert(name, self.namespace[source])
        except (TypeError, ValueError) as error:
            return Missing(source, f"is not what the lab asks for: {error}")


def _convert(name: str, value: object) -> object:
    kind = contract.kind_of(contract.notebook_name(name))
    if kind == "array":
        return _sampled(name, export._as_array(value, name))
    if kind == "model" or (kind is None and _is_model(value)):
        if not _is_model(value):
            raise TypeError(f"it is a {type(value).__qualname__}, not a Keras model")
        return SavedModel(name, value, value.get_compile_config() or {})
    if kind == "history":
        return export.history_values(value)
    if kind == "table":
        table = export._table(value)
        return Table(rows=table["rows"], values=table["values"])
    if kind == "scan_function":
        if not callable(value):
            raise TypeError(f"it is a {type(value).__qualname__}, not a function")
        return tuple(_scan_output(value, sample) for sample in _reference().samples)
    return _other(name, value)


def _is_model(value: object) -> bool:
    keras = sys.modules.get("keras")
    return keras is not None and issubclass(type(value), keras.Model)


def _other(name: str, value: object) -> object:
    """A name the lab does not define, as the checker would receive it."""
    keras, pandas = sys.modules.get("keras"), sys.modules.get("pandas")
    kind = type(value)
    if keras is not None and issubclass(kind, keras.callbacks.History):
        return export.history_values(value)
    if issubclass(kind, np.ndarray) or kind.__module__.split(".")[0] in export.TENSOR_MODULES:
        array = np.array(export._as_array(value, name))
        array.flags.writeable = False
        return array
    if pandas is not None and issubclass(kind, pandas.DataFrame):
        table = export._table(value)
        return Table(rows=table["rows"], values=table["values"])
    return export._plain(value, name, depth=0)


def _sampled(name: str, array: np.ndarray) -> ExportedArray:
    if array.ndim == 0:
        raise TypeError("it is a single number, not an array of images or labels")
    length = array.shape[0]
    rng = np.random.default_rng(SAMPLE_SEED)
    rows = np.sort(rng.choice(length, size=min(length, SAMPLE_ROWS), replace=False))
    picked = np.array(array[rows])
    picked.flags.writeable = False
    return ExportedArray(name, tuple(array.shape), array.dtype, picked, rows)


def _scan_output(function, sample) -> ScanOutput:
    try:
        array = np.array(export._as_array(function(str(sample.path)), export.SCAN_FUNCTION))
    except Exception as error:  # the student's function may raise anything
        return ScanOutput(sample, None, f"{type(error).__name__}: {error}")
    return ScanOutput(sample, array)


def _why_missing(name: str, recorder: _Recorder | None) -> str:
    """Why ``name`` is not defined, for a student, from the cells the kernel ran."""
    if recorder is not None:
        notebook = recorder.notebook()
        for index in reversed(assigning_cells(notebook, name)):
            error = recorder.errors.get(index)
            if error:
                return f"is not defined: the cell that assigns it raised {error}"
        if not assigning_cells(notebook, name) and any(
            error.startswith(NOT_DONE) for error in recorder.errors.values()
        ):
            return (
                f"is not defined yet: a cell above still raises {NOT_DONE} where your code "
                "goes. Replace `raise NotImplementedError()` with your code and run the cells "
                "from the top"
            )
    return (
        "is not defined. Run the cells above this one first (Run > Run All Above Selected "
        "Cell); if one of them still raises NotImplementedError, replace that line with "
        "your code. Check the name's spelling too: the instructions name it exactly so"
    )


class _Recorder:
    """Records each cell the kernel runs: its source, what it showed, the error it raised.

    Displays are seen through the shell's display publisher; printing through
    ``sys.stdout.write``, wrapped for the length of each cell only (IPython 9 wraps and
    restores it around each cell too).
    """

    def __init__(self, shell):
        self.cells: list[NotebookNode] = []
        self.errors: dict[int, str] = {}  # cell index -> "ValueError: ..."
        self._stdout: tuple[object, object] | None = None  # (stream, its own write) to restore
        shell.events.register("pre_run_cell", self._started)
        shell.events.register("post_run_cell", self._finished)
        publish = shell.display_pub.publish

        def recording_publish(data, *args, **kwargs):
            self._output(new_output("display_data", data=dict.fromkeys(data, "")))
            return publish(data, *args, **kwargs)

        shell.display_pub.publish = recording_publish

    def _output(self, output: NotebookNode) -> None:
        if not self.cells:
            return
        outputs = self.cells[-1].outputs
        if output.output_type != "stream" or output not in outputs:  # one per printing cell
            outputs.append(output)

    def _started(self, info) -> None:
        self.cells.append(new_code_cell(info.raw_cell or ""))
        stream = sys.stdout
        write = stream.write

        def recording_write(text, *args, **kwargs):
            if text:
                self._output(new_output("stream", name="stdout", text=""))
            return write(text, *args, **kwargs)

        with contextlib.suppress(AttributeError, TypeError):  # a stream without a __dict__
            own = vars(stream).get("write")
            stream.write = recording_write
            self._stdout = (stream, own)

    def _finished(self, result) -> None:
        if self._stdout is not None:
            stream, own = self._stdout
            if own is None:
                del stream.write
            else:
                stream.write = own
            self._stdout = None
        if not self.cells:
            return
        if result.result is not None:
            self._output(new_output("execute_result", data={"text/plain": ""}))
        error = result.error_in_exec or result.error_before_exec
        if error is not None:
            text = f"{type(error).__name__}: {error}".rstrip(": ")
            self.errors[len(self.cells) - 1] = text
            self._output(new_output("error", ename=type(error).__name__, evalue="", traceback=[]))

    def notebook(self) -> NotebookNode:
        """The cells run so far, as a notebook the checks can read."""
        return new_notebook(cells=copy.deepcopy(self.cells))


@cache
def _recorder() -> _Recorder | None:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return _Recorder(shell) if shell is not None else None


_recorder()  # start recording at the first import, before the cells that plot and print
