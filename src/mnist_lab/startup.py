"""Start-up of the kit's own processes (the `mnist-lab` command, the checker), never of a
student's kernel.

`skip_slow_optional_imports` keeps out optional modules that other libraries import when
they are installed but the kit never uses. ``rfc3987_syntax``: jsonschema (which nbformat
imports) loads it, when present, for its "iri" format checks, and it builds a grammar on
import: about a second, in every process that imports nbformat. nbformat's schema has no
"iri" format, and the kit validates notebooks without format checks. The module stays
importable in any process that does not call this.
"""

from __future__ import annotations

import sys

SLOW_OPTIONAL_IMPORTS = ("rfc3987_syntax",)


def skip_slow_optional_imports() -> None:
    """Make `SLOW_OPTIONAL_IMPORTS` raise ImportError here (optional imports fall back),
    unless one is already imported."""
    for name in SLOW_OPTIONAL_IMPORTS:
        sys.modules.setdefault(name, None)
