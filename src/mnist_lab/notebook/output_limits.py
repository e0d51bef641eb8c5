"""Keep the outputs of a running notebook to a bounded size.

nbclient keeps every output message of every cell in memory, and then in the executed
notebook, so a cell that prints in a loop would fill the grader's memory long before its
time limit. `OutputBudget` decides, message by message, what is kept: at most
`MAX_CELL_OUTPUT` characters per cell and `MAX_NOTEBOOK_OUTPUT` for the whole notebook. A
stream message (printed text) is cut where the limit falls; any other output past it is
dropped; the cell then gets one note saying so, and everything else it sends is dropped.
Error outputs are always kept, because they say why a cell failed, shortened when long.
Sizes are counted in characters of the message's content, close to its size in bytes.
"""

from __future__ import annotations

from nbformat import NotebookNode
from nbformat.v4 import new_output

MB = 1_000_000
MAX_CELL_OUTPUT = 5 * MB
MAX_NOTEBOOK_OUTPUT = 20 * MB
# An error output longer than this keeps the start of its message and its last frames.
MAX_ERROR_OUTPUT = 100_000
ERROR_FRAMES_KEPT = 20


def content_size(value: object) -> int:
    """The characters of every string in ``value`` (nested dicts and lists), plus a little."""
    size, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            size += len(item)
        elif isinstance(item, dict):
            size += sum(len(str(key)) for key in item)
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        else:
            size += 8
    return size


def shortened_error(content: dict) -> dict:
    """An error message's content cut to about `MAX_ERROR_OUTPUT` characters."""
    if content_size(content) <= MAX_ERROR_OUTPUT:
        return content
    half = MAX_ERROR_OUTPUT // 2
    evalue = str(content.get("evalue", ""))
    if len(evalue) > half:
        evalue = evalue[:half] + " [...]"
    traceback = [str(line)[:half] for line in content.get("traceback", [])[-ERROR_FRAMES_KEPT:]]
    while traceback and sum(map(len, traceback)) > half:
        traceback.pop(0)
    return {**content, "evalue": evalue, "traceback": traceback}


class OutputBudget:
    """What is left of each cell's and of the notebook's output allowance.

    ``cut`` maps each cell whose output was cut, in the order it happened, to whether the
    notebook's allowance (rather than the cell's) ran out.
    """

    def __init__(self, max_cell: int = MAX_CELL_OUTPUT, max_notebook: int = MAX_NOTEBOOK_OUTPUT):
        self.max_cell, self.max_notebook = max_cell, max_notebook
        self.used = 0
        self.used_by_cell: dict[int, int] = {}
        self.cut: dict[int, bool] = {}

    @property
    def truncated(self) -> tuple[int, ...]:
        """The cells whose output was cut, in order."""
        return tuple(self.cut)

    def is_cut(self, cell_index: int) -> bool:
        return cell_index in self.cut

    def room(self, cell_index: int) -> int:
        cell_room = self.max_cell - self.used_by_cell.get(cell_index, 0)
        return max(0, min(cell_room, self.max_notebook - self.used))

    def spend(self, cell_index: int, size: int) -> None:
        self.used += size
        self.used_by_cell[cell_index] = self.used_by_cell.get(cell_index, 0) + size

    def admit(self, msg: dict, cell_index: int) -> dict | None:
        """The message to keep (whole, or a stream cut short), or None to drop it.

        After this returns a cut or dropped message, `is_cut` is true for the cell.
        """
        if msg["msg_type"] == "error":
            return {**msg, "content": shortened_error(msg["content"])}
        if self.is_cut(cell_index):
            return None
        size, room = content_size(msg["content"]), self.room(cell_index)
        if size <= room:
            self.spend(cell_index, size)
            return msg
        cell_room = self.max_cell - self.used_by_cell.get(cell_index, 0)
        self.cut[cell_index] = self.max_notebook - self.used < cell_room
        if msg["msg_type"] == "stream" and room > 0:
            self.spend(cell_index, room)
            return {**msg, "content": {**msg["content"], "text": msg["content"]["text"][:room]}}
        return None

    def admits_update(self, msg: dict, copies: int) -> bool:
        """Whether an update of ``copies`` outputs shown with one display id still fits.

        Each copy is written out in full in the executed notebook, so each counts.
        """
        size = content_size(msg["content"]) * copies
        if self.used + size > self.max_notebook:
            return False
        self.used += size
        return True

    def note(self, cell_index: int) -> NotebookNode:
        """The note that ends a cut cell's output: what was dropped and what to do."""
        limit = (
            f"the notebook's outputs reached {self.max_notebook / MB:g} MB"
            if self.cut.get(cell_index)
            else f"this cell's output reached {self.max_cell / MB:g} MB"
        )
        return new_output(
            "stream",
            name="stderr",
            text=(
                f"\n[output truncated: {limit}, so the rest of it was dropped. The grader "
                f"keeps at most {self.max_cell / MB:g} MB of output per cell and "
                f"{self.max_notebook / MB:g} MB per notebook. Print less: a summary, or "
                "every 100th line of a loop.]\n"
            ),
        )
