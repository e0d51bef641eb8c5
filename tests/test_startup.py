"""`mnist_lab.startup`: the kit's own processes skip slow optional imports; nothing else does."""

from __future__ import annotations

import subprocess
import sys

PROBE = """\
import sys
{setup}
import nbformat
nbformat.validate(nbformat.v4.new_notebook())  # notebooks still validate without it
print(repr(sys.modules.get("rfc3987_syntax", "absent")))
"""


def _probe(setup: str) -> str:
    code = PROBE.format(setup=setup)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_the_command_keeps_jsonschemas_iri_grammar_out():
    assert _probe("import mnist_lab.cli") == "None"


def test_skip_slow_optional_imports_keeps_it_out_as_the_checker_calls_it():
    setup = "from mnist_lab.startup import skip_slow_optional_imports\nskip_slow_optional_imports()"
    assert _probe(setup) == "None"


def test_a_students_kernel_importing_the_kit_is_left_as_it_is():
    assert _probe("import mnist_lab.data, mnist_lab.scans") != "None"
