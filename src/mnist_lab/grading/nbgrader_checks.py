"""The kit's checks as nbgrader test cells: one check, run on the notebook's live objects.

A test cell of the lab notebook runs::

    outcome = run_check("scaled_pixels", globals())
    assert outcome.passed, outcome.feedback

The check is the catalogue's own function (`checks.CHECKS`), called by `runner.run_check`
as `mnist-lab grade` calls it, on the same kinds of artefact; they are built here from the
kernel's objects instead of from exported files, and the points come from the rubric. A
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
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

import numpy as np
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_notebook, new_output

from mnist_lab.grading import export, runner
from mnist_lab.grading.artefacts import (
    NOT_DONE,
    ExportedArray,
    Missing,
    Reference,
    SavedModel,
    ScanOutput,
    Table,
    load_reference,
)
from mnist_lab.grading.checks import CHECKS, check_name, check_title
from mnist_lab.grading.results import CheckResult
from mnist_lab.grading.rubric import Rubric, load_rubric
from mnist_lab.grading.sources import assigning_cells
from mnist_lab.paths import sample_images_dir
from mnist_lab.quiet import stderr_fd_silenced

CATALOGUE = {check_name(check): check for check in CHECKS}
# Rows of each array the array checks compare, picked once with a fixed seed.
SAMPLE_ROWS = 2_000
SAMPLE_SEED = 0


@dataclass(frozen=True)
class CellOutcome:
    """What a test cell asserts: whether the check passed, and what the student reads."""

    passed: bool
    feedback: str  # the points, then the check's message


def run_check(name: str, namespace: Mapping[str, object]) -> CellOutcome:
    """Run the check ``name`` on the objects in ``namespace`` (a notebook's ``globals()``).

    Prints the feedback when the check passes; the test cell asserts ``outcome.passed``
    with ``outcome.feedback`` as the message, so that a failure shows the cell's own line.
    """
    if name not in CATALOGUE:
        raise ValueError(f"No check is called {name!r}; the checks are {', '.join(CATALOGUE)}.")
    if _recorder() is None and "notebook" in inspect.signature(CATALOGUE[name]).parameters:
        # A script (the notebook's code run by plain Python) has no outputs to look at.
        feedback = f"Not checked: {check_title(CATALOGUE[name])} (only in a Jupyter kernel)."
        print(feedback)
        return CellOutcome(True, feedback)
    result = check_result(name, namespace)
    extra = " of extra credit" if result.extra_credit else ""
    if not result.passed:
        return CellOutcome(
            False,
            f"Not passed (0 of {result.max_points:g} points{extra}): {result.title}.\n"
            f"{result.message}",
        )
    points = f"{result.points:g} of {result.max_points:g} points{extra}"
    feedback = f"Passed ({points}). {result.message}"
    print(feedback)
    return CellOutcome(True, feedback)


def check_result(name: str, namespace: Mapping[str, object]) -> CheckResult:
    """The check's `CheckResult`, with the rubric's points."""
    check = CATALOGUE[name]
    recorder = _recorder()
    started = time.perf_counter()
    with _quiet():
        artefacts = {
            parameter: _artefact(parameter, namespace, recorder)
            for parameter in inspect.signature(check).parameters
        }
        verdict = runner.run_check(check, artefacts)
    spec = _rubric().checks[name]
    return runner.score(name, check_title(check), verdict, spec, time.perf_counter() - started)


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
def _reference() -> Reference:
    return load_reference(None, sample_images_dir())


def _artefact(name: str, namespace: Mapping[str, object], recorder: _Recorder | None) -> object:
    """The artefact a check parameter names, built from the kernel's objects."""
    if name == "mnist":
        return _reference()
    if name == "thresholds":
        return _rubric().thresholds
    if name == "notebook":
        if recorder is None:
            return Missing("notebook", "can be read only in a Jupyter kernel")
        return recorder.notebook()
    source = export.SCAN_FUNCTION if name == "scan_outputs" else name
    if source not in namespace:
        return Missing(source, _why_missing(source, recorder))
    try:
        return _convert(name, namespace[source])
    except (TypeError, ValueError) as error:
        return Missing(source, f"is not what the lab asks for: {error}")


def _convert(name: str, value: object) -> object:
    if name in export.ARRAY_SPLITS:
        return _sampled(name, export._as_array(value, name))
    if name in export.MODEL_NAMES:
        keras = sys.modules.get("keras")
        if keras is None or not isinstance(value, keras.Model):
            raise TypeError(f"it is a {type(value).__qualname__}, not a Keras model")
        return SavedModel(name, value, value.get_compile_config() or {})
    if name in export.HISTORY_NAMES:
        return export.history_values(value)
    if name in export.TABLE_NAMES:
        table = export._table(value)
        return Table(rows=table["rows"], values=table["values"])
    if name == "scan_outputs":
        if not callable(value):
            raise TypeError(f"it is a {type(value).__qualname__}, not a function")
        return tuple(_scan_output(value, sample) for sample in _reference().samples)
    raise ValueError(f"the grader does not know the artefact {name!r}")


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
