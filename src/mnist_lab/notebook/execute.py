"""Run a lab notebook in a real Jupyter kernel, with time limits and progress.

The notebook runs top to bottom in a fresh kernel (restart-and-run-all semantics), in the
notebook's own folder, as Jupyter would run it. TensorFlow's C++ log noise is silenced in
the kernel's environment. Progress (the section being run, training epochs) goes to the
logger. The outputs kept are bounded (`output_limits`), so a cell that prints without end
cannot fill the memory of the process that runs the notebook.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbformat.warnings import MissingIDFieldWarning

from mnist_lab.errors import LabError
from mnist_lab.notebook.output_limits import OutputBudget
from mnist_lab.paths import sample_images_dir

logger = logging.getLogger(__name__)

DEFAULT_CELL_TIMEOUT_S = 900
# How long a cell interrupted at its time limit has to stop (at most its own time limit):
# native code (NumPy, TensorFlow) sees the interrupt only when it returns to Python.
STOP_GRACE_S = 30
DEFAULT_KERNEL_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "2",  # TensorFlow's C++ info and warning lines on stderr
    "PYTHONWARNINGS": "ignore",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
}
# The largest notebook file read: the reference solution with its outputs is 0.25 MB, so
# more than this is mostly output, or not a lab notebook, and would fill memory to read.
MAX_NOTEBOOK_BYTES = 100_000_000
# The longest error message kept from a cell (the rest of a huge one is cut).
MAX_ERROR_MESSAGE = 2_000
EPOCH_LINE = re.compile(r"^Epoch (\d+)/(\d+)\s*$", re.MULTILINE)
HEADING = re.compile(r"^#{1,4}\s+(.+?)\s*$", re.MULTILINE)


def read_notebook(path: str | os.PathLike) -> NotebookNode:
    """Read and validate a notebook file, or raise `LabError` saying what is wrong."""
    path = Path(path)
    if not path.exists():
        raise LabError(
            f"Notebook not found: {path}. Check the path; the reference solution is "
            f"solution/mnist_cnn_lab.ipynb."
        )
    if path.is_dir():
        raise LabError(f"{path} is a folder; expected a notebook file (.ipynb).")
    if path.suffix != ".ipynb":
        raise LabError(
            f"{path} is not a notebook: expected a Jupyter .ipynb file. In Jupyter, use "
            f"File > Download as > Notebook (.ipynb)."
        )
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise LabError(
            f"{path} is {path.stat().st_size / 1e6:.0f} MB; a lab notebook is far smaller "
            f"(at most {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB is read). Clear its outputs "
            "(Edit > Clear Outputs of All Cells), save it and hand it in again."
        )
    try:
        # nbformat.read would log every invalid notebook; it is validated (and reported) below.
        notebook = nbformat.convert(nbformat.reader.reads(path.read_text(encoding="utf-8")), 4)
        if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
            raise ValueError("no list of cells at its top level")
        if notebook.get("nbformat_minor", 0) < nbformat.v4.nbformat_minor:
            # To 4.5 and its cell ids, as the cells the grader adds carry one.
            notebook = nbformat.v4.upgrade(
                notebook, from_version=4, from_minor=notebook.get("nbformat_minor", 0)
            )
    except Exception as error:  # nbformat raises several unrelated types for bad files
        raise LabError(
            f"{path} could not be read as a Jupyter notebook ({type(error).__name__}: "
            f"{_first_line(str(error))}). The file may be damaged or not a notebook; "
            f"download it again from Jupyter."
        ) from error
    notebook.setdefault("metadata", nbformat.NotebookNode()).pop(REPAIRS_KEY, None)
    try:
        nbformat.validate(notebook)
    except nbformat.ValidationError as error:
        repairs = _repair(notebook)
        try:
            nbformat.validate(notebook)
        except nbformat.ValidationError:
            raise LabError(
                f"{path} is not a valid notebook: {_first_line(error.message)}. Open and save "
                f"it in Jupyter to repair it."
            ) from error
        notebook.metadata[REPAIRS_KEY] = repairs
    if not any(cell.cell_type == "code" for cell in notebook.cells):
        raise LabError(
            f"{path} has no code cells: there is nothing to run. Hand in the lab notebook "
            "with your code: in Jupyter, save it (File > Save) and upload that .ipynb file."
        )
    return notebook


# nbformat warns of each cell without an id (Jupyter adds them): `validate` adds them.
warnings.filterwarnings("ignore", category=MissingIDFieldWarning)
# Where `read_notebook` lists what it repaired (a key a notebook of its own may not set).
REPAIRS_KEY = "mnist_lab_repairs"
CELL_FIELDS = {
    "code": {"metadata": dict, "source": str, "outputs": list, "execution_count": None},
    "markdown": {"metadata": dict, "source": str},
    "raw": {"metadata": dict, "source": str},
}


def _repair(notebook: NotebookNode) -> list[str]:
    """Fill in what a hand-edited or tool-written notebook left out; say what was done.

    The grader runs the code and never uses saved outputs, so code cells lose theirs (they
    are where most damage is); missing fields get their empty values, and a cell of an
    unknown type becomes a raw cell (kept, never run).
    """
    done = set()
    for cell in notebook.cells:
        if not isinstance(cell, dict):
            continue
        if cell.get("cell_type") not in CELL_FIELDS:
            done.add(f"a cell of unknown type {str(cell.get('cell_type'))[:40]!r} became raw text")
            for key in set(cell) - {"id", "source", "metadata"}:
                del cell[key]
            cell["cell_type"] = "raw"
        for field, kind in CELL_FIELDS[cell["cell_type"]].items():
            value = cell.get(field)
            if field == "source" and isinstance(value, list):
                cell[field] = "".join(str(line) for line in value)
            elif kind is None:
                if value is not None and type(value) is not int:
                    cell[field] = None
                    done.add(f"code cells' {field} cleared")
                elif field not in cell:
                    cell[field] = None
                    done.add(f"code cells' missing {field} added")
            elif not isinstance(value, kind):
                cell[field] = nbformat.NotebookNode() if kind is dict else kind()
                done.add(f"missing or damaged {field} of {cell['cell_type']} cells replaced")
        if cell["cell_type"] == "code" and cell["outputs"]:
            cell["outputs"] = []
            done.add("the saved outputs of code cells cleared")
    return sorted(done)


@dataclass(frozen=True)
class CellFailure:
    """A cell that raised, timed out or killed the kernel."""

    cell_index: int
    section: str
    kind: str  # "error", "timeout" or "dead kernel"
    message: str

    def where(self) -> str:
        """ "cell 12 (Step 8: ...)": the cell's number, from 1, and the heading it sits under."""
        return f"cell {self.cell_index + 1}" + (f" ({self.section})" if self.section else "")

    def describe(self) -> str:
        return f"{self.where()}: {self.message}"


def is_extra_cell(cell: NotebookNode) -> bool:
    """The kit's own cell that `execute_notebook` runs after the notebook's (``extra_code``);
    a notebook's own cells never carry its tag."""
    return cell.metadata.get("mnist_lab") == "export"


class _ProgressClient(NotebookClient):
    """A NotebookClient that logs the section it runs and each training epoch.

    With ``deadline`` (a `time.monotonic` value), the notebook's own cells get at most the
    time left before it, and cells reached after it are skipped; the kit's extra cell still
    runs, with the usual cell time limit. A cell that is still running after the interrupt
    at its time limit (it catches KeyboardInterrupt, or is stuck in native code) leaves
    the kernel busy: every later cell is skipped, the extra cell too, rather than each
    waiting out its own time limit. ``skipped`` maps each skipped cell to the reason.
    Outputs are kept within ``budget``; widget state, which nbclient keeps without limit,
    is not kept.
    """

    def __init__(
        self,
        notebook: NotebookNode,
        *,
        deadline: float | None = None,
        budget: OutputBudget | None = None,
        **kwargs,
    ):
        super().__init__(notebook, store_widget_state=False, **kwargs)
        self.budget = budget or OutputBudget()
        self._sections = _section_of_each_cell(notebook)
        self._code_cells = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
        self.on_cell_start = self._log_cell_start
        self.on_cell_error = self._record_error
        self.deadline = deadline
        self.cell_errors: list[CellFailure] = []
        self.skipped: dict[int, str] = {}
        self.stuck: int | None = None  # the cell the kernel kept running after its interrupt
        # The cell sent to the kernel last: a kernel that dies at once may never announce
        # the cell on iopub, so the cells' metadata can name the one before it.
        self.running: int | None = None
        if deadline is not None:
            self.timeout_func = self._time_left

    def _is_extra(self, cell: NotebookNode) -> bool:
        return is_extra_cell(cell)

    def _time_left(self, cell: NotebookNode) -> int:
        if self._is_extra(cell):
            return self.timeout
        return max(1, min(self.timeout, int(self.deadline - time.monotonic()) + 1))

    async def async_execute_cell(self, cell, cell_index, execution_count=None, **kwargs):
        reason = self._skip_reason(cell) if cell.cell_type == "code" else None
        if reason is not None:
            self.skipped[cell_index] = reason
            return cell
        if cell.cell_type == "code":
            self.running = cell_index
        cell = await super().async_execute_cell(cell, cell_index, execution_count, **kwargs)
        if self._kept_running(cell, cell_index):
            self.stuck = cell_index
            self.cell_errors[-1] = replace(self.cell_errors[-1], message=STUCK_MESSAGE)
        return cell

    def _skip_reason(self, cell: NotebookNode) -> str | None:
        if self.stuck is not None:
            return STUCK_SKIPPED_MESSAGE.format(number=self.stuck + 1)
        if (
            self.deadline is not None
            and time.monotonic() >= self.deadline
            and not self._is_extra(cell)
        ):
            return SKIPPED_MESSAGE
        return None

    def _kept_running(self, cell: NotebookNode, cell_index: int) -> bool:
        """Whether the cell timed out and the kernel did not go idle after the interrupt
        (within ``iopub_timeout``, how long nbclient then waits for the cell's last output)."""
        last = self.cell_errors[-1] if self.cell_errors else None
        return (
            last is not None
            and last.cell_index == cell_index
            and last.kind == "timeout"
            and "iopub.status.idle" not in cell.metadata.get("execution", {})
        )

    def _record_error(self, cell: NotebookNode, cell_index: int, execute_reply: dict) -> None:
        content = execute_reply.get("content", {})
        timed_out = content.get("ename") == TIMEOUT_ERROR["ename"]
        message = _error_message(content.get("ename", "Error"), content.get("evalue", ""))
        self.cell_errors.append(
            CellFailure(
                cell_index,
                self._sections.get(cell_index, ""),
                "timeout" if timed_out else "error",
                message,
            )
        )

    def _log_cell_start(self, cell: NotebookNode, cell_index: int) -> None:
        if cell.cell_type != "code" or cell_index not in self._code_cells:
            return
        position = self._code_cells.index(cell_index) + 1
        logger.info(
            "[cell %d/%d] %s", position, len(self._code_cells), self._sections.get(cell_index, "")
        )

    def output(self, outs, msg, display_id, cell_index):
        kept = self.budget.admit(msg, cell_index)
        if kept is None:
            return None
        if kept["msg_type"] == "stream":
            for done, total in EPOCH_LINE.findall(kept["content"].get("text", "")):
                logger.info("    training epoch %s/%s", done, total)
        out = super().output(outs, kept, display_id, cell_index)
        if self.budget.is_cut(cell_index):
            outs.append(self.budget.note(cell_index))
        return out

    def clear_output(self, outs, msg, cell_index):
        super().clear_output(outs, msg, cell_index)
        if self.budget.is_cut(cell_index) and not outs:  # the note stays
            outs.append(self.budget.note(cell_index))

    def _update_display_id(self, display_id, msg):
        copies = sum(map(len, self._display_id_map.get(display_id, {}).values()))
        if self.budget.admits_update(msg, copies):
            super()._update_display_id(display_id, msg)


def _section_of_each_cell(notebook: NotebookNode) -> dict[int, str]:
    section, sections = "", {}
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown":
            headings = HEADING.findall(cell.source)
            if headings:
                section = headings[-1]
        sections[index] = section
    return sections


def _error_message(ename: object, evalue: object) -> str:
    """ "ValueError: what it said", without colour codes, cut to `MAX_ERROR_MESSAGE`."""
    text = ANSI.sub("", str(evalue))
    if len(text) > MAX_ERROR_MESSAGE:
        text = text[:MAX_ERROR_MESSAGE] + " [...]"
    return f"{ename}: {text}".rstrip(": ")


def _first_line(text: str) -> str:
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _failure_from(error: Exception, running: int | None, sections: dict[int, str]) -> CellFailure:
    """The failure that stopped the run, in the cell that was running (the first cell if
    the kernel died before any ran)."""
    if isinstance(error, CellExecutionError):
        kind = "error"
        message = _error_message(error.ename, error.evalue)
    elif isinstance(error, CellTimeoutError):
        kind, message = "timeout", _first_line(str(error))
    else:
        kind, message = "dead kernel", "the kernel died (the code crashed or ran out of memory)"
    index = running if running is not None else 0
    return CellFailure(index, sections.get(index, ""), kind, message)


@dataclass(frozen=True)
class ExecutedNotebook:
    """A notebook after its run: its cells with outputs, and the first failure if any.

    ``failure`` is what stopped the run (with ``allow_errors``, only a dead kernel does);
    ``errors`` lists every cell that raised or timed out, in order, and cells skipped
    because the whole notebook ran out of time (kind "skipped"). ``truncated`` lists the
    cells whose output was cut at the output limits (`output_limits`).
    """

    path: Path
    notebook: NotebookNode
    failure: CellFailure | None
    seconds: float
    errors: tuple[CellFailure, ...] = ()
    truncated: tuple[int, ...] = ()


# The error recorded for a cell interrupted at its time limit when errors are allowed.
TIMEOUT_ERROR = {"ename": "CellTimeoutError", "evalue": "", "traceback": []}
SKIPPED_MESSAGE = "not run: the notebook had used up its time limit"
STUCK_MESSAGE = (
    "CellTimeoutError: the cell ran past its time limit and did not stop when interrupted, "
    "so the kernel could run nothing after it. Make it finish within the time limit, and do "
    "not catch KeyboardInterrupt"
)
STUCK_SKIPPED_MESSAGE = (
    "not run: the kernel was still running cell {number}, which did not stop at its time limit"
)


def execute_notebook(
    path: str | os.PathLike,
    *,
    cell_timeout: int = DEFAULT_CELL_TIMEOUT_S,
    extra_code: str | None = None,
    env: dict[str, str] | None = None,
    allow_errors: bool = False,
    notebook_timeout: float | None = None,
    cwd: str | os.PathLike | None = None,
    kernel_wrapper: Sequence[str] = (),
    before_cells: Callable[[], None] | None = None,
    ipc_folder: str | os.PathLike | None = None,
) -> ExecutedNotebook:
    """Run every cell of the notebook at ``path`` in a fresh kernel.

    ``extra_code``, when given, runs as one more cell after the notebook's own cells, in the
    same kernel (the kit uses it to export the trained model and the history). A cell that
    raises stops the run; the failure is returned, not raised.

    Options for grading: ``allow_errors`` runs on past cells that raise or time out (a timed
    out cell is interrupted), so that later, independent cells still run; the errors are in
    ``errors``; a cell still running `STOP_GRACE_S` (or its time limit, if shorter) after
    that interrupt leaves the kernel busy, and every later cell, ``extra_code`` included,
    is skipped. ``notebook_timeout`` limits the notebook's own cells in total (seconds);
    cells reached after it are skipped, ``extra_code`` still runs. Outputs are kept within
    `output_limits`' bounds; the cells whose output was cut are in ``truncated``. ``cwd``
    is the kernel's working folder (default: the notebook's). ``kernel_wrapper`` is a
    command that starts the kernel command given after it. ``before_cells`` is called once
    the kernel is up, before the first cell; what it raises stops the run and propagates.
    With ``ipc_folder``, the kernel's channels are Unix sockets in that folder (Jupyter's
    IPC transport) instead of TCP ports on 127.0.0.1: a kernel with no network of its own
    (see `grading.sandbox`) needs them, and no other process can reach them by port.
    """
    path = Path(path).resolve()
    notebook = read_notebook(path)
    for cell in notebook.cells:  # only the kit's own cell, added below, may carry its tag
        cell.metadata.pop("mnist_lab", None)
    if extra_code:
        notebook.cells.append(
            nbformat.v4.new_code_cell(extra_code, metadata={"mnist_lab": "export"})
        )
    kernel_env = {**os.environ, **DEFAULT_KERNEL_ENV, **(env or {})}
    kernel_env.setdefault("MNIST_LAB_SAMPLES", str(sample_images_dir(must_exist=False)))
    grading = {}
    if allow_errors:
        timeout_error = {**TIMEOUT_ERROR, "evalue": "the cell ran past its time limit"}
        grading = {
            "allow_errors": True,
            "interrupt_on_timeout": True,
            "iopub_timeout": min(STOP_GRACE_S, cell_timeout),  # the wait for it to stop
        }
        grading["error_on_timeout"] = timeout_error
    client = _ProgressClient(
        notebook,
        deadline=None if notebook_timeout is None else time.monotonic() + notebook_timeout,
        timeout=cell_timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(Path(cwd) if cwd is not None else path.parent)}},
        record_timing=True,
        **grading,
    )
    if before_cells is not None:
        client.on_notebook_start = lambda notebook: before_cells()
    # Use this interpreter for the kernel, whatever kernels are installed on the machine.
    ipc_prefix = None if ipc_folder is None else str(Path(ipc_folder) / "kernel")
    client.kernel_manager_class = _this_python_kernel_manager(tuple(kernel_wrapper), ipc_prefix)
    started = time.perf_counter()
    failure = None
    try:
        # The kernel's own stderr (C++ log lines from TensorFlow) is not the notebook's output.
        client.execute(env=kernel_env, stderr=subprocess.DEVNULL)
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
        failure = _failure_from(error, client.running, client._sections)
    seconds = time.perf_counter() - started
    if failure:
        logger.error("The notebook stopped at %s", failure.describe())
    errors = list(client.cell_errors)
    if failure is not None and failure.kind != "error":
        errors.append(failure)
    errors += [
        CellFailure(i, client._sections.get(i, ""), "skipped", reason)
        for i, reason in client.skipped.items()
    ]
    if client.budget.truncated:
        logger.warning("Output cut at the output limits in cell(s) %s", client.budget.truncated)
    return ExecutedNotebook(
        path, notebook, failure, seconds, tuple(errors), client.budget.truncated
    )


def _this_python_kernel_manager(wrapper: tuple[str, ...] = (), ipc_prefix: str | None = None):
    from jupyter_client.manager import AsyncKernelManager

    class ThisPythonKernelManager(AsyncKernelManager):
        """Starts ipykernel with the interpreter that runs the kit (over IPC with a prefix)."""

        def __init__(self, **kwargs):
            if ipc_prefix is not None:
                kwargs.update(transport="ipc", ip=ipc_prefix)
            super().__init__(**kwargs)

        def format_kernel_cmd(self, extra_arguments=None):
            command = [sys.executable, "-m", "ipykernel_launcher", "-f", self.connection_file]
            return [*wrapper, *command]

    return ThisPythonKernelManager
