"""The kit's own error: a problem the user can fix, with a message that says how."""

from __future__ import annotations


class LabError(Exception):
    """Bad input to the kit (a missing file, a broken notebook): the message says how to fix it.

    The command line prints the message (no traceback) and exits with status 2.
    """
