"""Output limits: what is kept of a cell's output, and a real flood that stays bounded.

The budget's rules are tested on messages alone; one test floods a real kernel with 500 MB
of printed text in a separate process and measures that process's peak memory.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from mnist_lab.notebook.output_limits import (
    MAX_ERROR_OUTPUT,
    OutputBudget,
    content_size,
    shortened_error,
)


def stream(text: str) -> dict:
    return {"msg_type": "stream", "content": {"name": "stdout", "text": text}}


def display(size: int) -> dict:
    return {"msg_type": "display_data", "content": {"data": {"image/png": "A" * size}}}


# What a stream message's keys and name count besides its text.
OVERHEAD = content_size(stream("")["content"])


def test_output_within_the_limits_is_kept_whole():
    budget = OutputBudget(max_cell=100 + 2 * OVERHEAD, max_notebook=1000)
    message = stream("x" * 60)
    assert budget.admit(message, 0) is message
    assert budget.admit(stream("y" * 40), 0)["content"]["text"] == "y" * 40
    assert not budget.is_cut(0) and budget.truncated == ()


def test_a_stream_is_cut_at_the_cell_limit_then_everything_else_is_dropped():
    budget = OutputBudget(max_cell=100, max_notebook=1000)
    budget.admit(stream("x" * 60), 0)
    kept = budget.admit(stream("y" * 60), 0)
    assert kept["content"]["text"] == "y" * (40 - OVERHEAD)
    assert budget.truncated == (0,)
    assert budget.admit(stream("z"), 0) is None
    assert budget.admit(display(1), 0) is None
    assert budget.admit(stream("next cell"), 1) is not None  # another cell has its own room
    assert "this cell's output reached" in budget.note(0)["text"]


def test_a_display_past_the_limit_is_dropped_whole():
    budget = OutputBudget(max_cell=100, max_notebook=1000)
    assert budget.admit(display(500), 0) is None
    assert budget.truncated == (0,)


def test_the_notebook_limit_spans_cells():
    budget = OutputBudget(max_cell=100, max_notebook=250)
    for cell in range(3):
        budget.admit(stream("x" * (100 - OVERHEAD)), cell)
    assert budget.truncated == (2,)
    assert budget.used == 250
    assert "the notebook's outputs reached" in budget.note(2)["text"]
    assert budget.admit(stream("x"), 3) is None


def test_errors_are_always_kept_and_long_ones_shortened():
    budget = OutputBudget(max_cell=10, max_notebook=10)
    budget.admit(stream("x" * 20), 0)
    huge = {
        "ename": "ValueError",
        "evalue": "v" * 1_000_000,
        "traceback": [f"frame {i}" * 1000 for i in range(500)],
    }
    kept = budget.admit({"msg_type": "error", "content": huge}, 0)
    assert kept["content"]["ename"] == "ValueError"
    assert content_size(kept["content"]) <= MAX_ERROR_OUTPUT + 100
    assert kept["content"]["traceback"][-1] == huge["traceback"][-1][: MAX_ERROR_OUTPUT // 2]
    small = {"ename": "E", "evalue": "short", "traceback": ["t"]}
    assert shortened_error(small) is small


def test_a_display_update_counts_every_copy_it_rewrites():
    budget = OutputBudget(max_cell=1000, max_notebook=1000)
    assert budget.admits_update(display(100), copies=5)
    assert not budget.admits_update(display(100), copies=10)
    assert budget.used == 5 * content_size(display(100)["content"])


def test_nested_content_is_measured_without_recursion():
    deep: list = []
    for _ in range(10_000):
        deep = [deep, "ab"]
    assert content_size(deep) == 20_000


FLOOD = """\
import json, sys
import nbformat
from nbformat.v4 import new_code_cell, new_notebook
from mnist_lab.notebook.execute import execute_notebook

def memory(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024

path = sys.argv[1]
flood = 'line = "x" * 999\\nfor _ in range(500_000):\\n    print(line)'  # 500 MB
cells = [new_code_cell("print('before')"), new_code_cell(flood), new_code_cell("print('after')")]
nbformat.write(new_notebook(cells=cells), path)
before = memory("VmRSS")
executed = execute_notebook(path, cell_timeout=300, allow_errors=True)
print(json.dumps({
    "growth": memory("VmHWM") - before,
    "sizes": [len(json.dumps(cell.outputs)) for cell in executed.notebook.cells],
    "texts": [[o.get("text", "")[:200] for o in c.outputs] for c in executed.notebook.cells],
    "truncated": executed.truncated,
    "errors": len(executed.errors),
}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_a_500_mb_flood_keeps_5_mb_and_memory_stays_bounded(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-c", FLOOD, str(tmp_path / "flood.ipynb")],
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert completed.returncode == 0, completed.stderr
    found = json.loads(completed.stdout.strip().splitlines()[-1])
    assert found["errors"] == 0 and found["truncated"] == [1]
    assert 5_000_000 <= found["sizes"][1] <= 5_100_000
    assert found["texts"][0] == ["before\n"] and found["texts"][2] == ["after\n"]
    assert "[output truncated" in found["texts"][1][-1]
    assert found["growth"] < 250_000_000, textwrap.shorten(str(found), 300)
