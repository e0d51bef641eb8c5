"""Similar code between submissions: winnowed fingerprints of normalised tokens, as MOSS does.

Each student's own code is the code cells of their notebook less the template's cells. It is
read as Python tokens, normalised so that the usual disguises change nothing:

- comments and whitespace are dropped, and a line break is the same as ``;`` (reformatting,
  added comments);
- the names the student defines (variables, functions, their parameters, import aliases)
  become one placeholder, except the names the lab's contract dictates, which every
  submission must use (renamed variables); library names and attributes are kept;
- the contents of strings are dropped (reworded titles and prints); numbers are kept: they
  are the design (filters, units, epochs) and differ between independent solutions.

Every run of `K` tokens is hashed, and winnowing keeps the smallest hash of each window of
`WINDOW` hashes (Schleimer, Wilkerson and Aiken, 2003): any shared run of at least
``K + WINDOW - 1`` tokens shares a fingerprint. Fingerprints are position-free, so
reordering cells changes nothing. The template's fingerprints, and in a class of at least
`COMMON_MIN_CLASS` those found in more than `COMMON_FRACTION` of it (the lines the
instructions dictate), are ignored. A pair's score is the share of the smaller side's
fingerprints that the other has; a pair is listed when the score reaches the threshold and
they share at least `MIN_SHARED` fingerprints (a few short standard lines never do).
Candidate pairs come from an index of fingerprints, so a class of hundreds takes seconds.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import io
import keyword
import re
import tokenize
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from mnist_lab.grading.kernel import export

K = 12
WINDOW = 6
MIN_SHARED = 40  # about 150 tokens: 15 or so lines of code, more than any standard lines
COMMON_FRACTION = 0.5
COMMON_MIN_CLASS = 6
DEFAULT_THRESHOLD = 0.6
# Names every submission uses because the lab asks for them: never renamed by a copier.
CONTRACT_NAMES = frozenset(
    {
        *export.ARRAY_SPLITS,
        *export.MODEL_NAMES,
        *export.HISTORY_NAMES,
        *export.TABLE_NAMES,
        export.SCAN_FUNCTION,
        "STUDENT_NAME",
        "REGISTER_NUMBER",
    }
)
KEPT_NAMES = frozenset(dir(builtins)) | CONTRACT_NAMES
MAGIC_LINE = re.compile(r"^\s*[%!].*$", re.MULTILINE)
SKIPPED = {
    # Python 3.12 splits f-strings into tokens: their text goes, like any string's.
    getattr(tokenize, "FSTRING_MIDDLE", tokenize.COMMENT),
    getattr(tokenize, "FSTRING_END", tokenize.COMMENT),
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENCODING,
    tokenize.ENDMARKER,
}


@dataclass(frozen=True)
class Fingerprint:
    """Where a fingerprint lies: the cell (its number among the code cells) and its lines."""

    cell: int
    first_line: int
    last_line: int


@dataclass
class Submission:
    """One student's own code, normalised and fingerprinted."""

    student: str
    cells: list[str]  # the student's own code cells, in notebook order
    cell_numbers: list[int]  # each own cell's number among the notebook's code cells (1-based)
    fingerprints: dict[int, list[Fingerprint]] = field(default_factory=dict)


@dataclass(frozen=True)
class Match:
    """Two submissions with the same code: the score and the cells and lines they share."""

    first: str
    second: str
    score: float
    shared: int
    # (cell of first, lines of first, cell of second, lines of second), by cell number.
    cells: tuple[tuple[int, tuple[int, ...], int, tuple[int, ...]], ...]


def defined_names(source: str) -> set[str]:
    """The names a cell defines: assignment targets, functions, parameters, import aliases."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # deep nesting included
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias) and node.asname:
            names.add(node.asname)
    return names - KEPT_NAMES


def tokens(source: str, renamed: set[str]) -> list[tuple[str, int]]:
    """The normalised tokens of a cell, each with its line number."""
    source = MAGIC_LINE.sub("", source)  # IPython's %magics and !shell lines are not Python
    result: list[tuple[str, int]] = []
    previous = None
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type in SKIPPED:
                continue
            text = token.string
            if token.type == tokenize.NAME:
                after_dot = previous == "."
                if not after_dot and not keyword.iskeyword(text) and text in renamed:
                    text = "V"
            elif token.type == tokenize.STRING or token.type == getattr(
                tokenize, "FSTRING_START", -1
            ):
                text = "S"
            elif token.type == tokenize.NEWLINE:
                text = ";"
            result.append((text, token.start[0]))
            previous = token.string
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass  # a cell that does not tokenise to its end keeps what was read
    return result


def _hash(gram: Sequence[str]) -> int:
    digest = hashlib.blake2b("\x1f".join(gram).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def winnow(hashes: list[int]) -> list[int]:
    """The positions winnowing keeps: the rightmost smallest hash of each window."""
    if len(hashes) <= WINDOW:
        return [min(range(len(hashes)), key=lambda i: (hashes[i], -i))] if hashes else []
    kept, last = [], -1
    for start in range(len(hashes) - WINDOW + 1):
        window = range(start, start + WINDOW)
        smallest = min(window, key=lambda i: (hashes[i], -i))
        if smallest != last:
            kept.append(smallest)
            last = smallest
    return kept


def cell_fingerprints(source: str, renamed: set[str]) -> dict[int, tuple[int, int]]:
    """A cell's fingerprints, each with the lines (first, last) of its K tokens."""
    stream = tokens(source, renamed)
    if len(stream) < K:
        return {}
    grams = [stream[i : i + K] for i in range(len(stream) - K + 1)]
    hashes = [_hash([text for text, _ in gram]) for gram in grams]
    return {hashes[i]: (grams[i][0][1], grams[i][-1][1]) for i in winnow(hashes)}


def _normal(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def prepare(
    student: str, code_cells: Sequence[str], template_cells: Iterable[str] = ()
) -> Submission:
    """The student's own cells (those not in the template), fingerprinted."""
    given = {_normal(cell) for cell in template_cells}
    own = [(n, c) for n, c in enumerate(code_cells, 1) if c.strip() and _normal(c) not in given]
    submission = Submission(student, [c for _, c in own], [n for n, _ in own])
    # Names defined anywhere in the notebook, so that one name is treated alike in every cell.
    renamed = set().union(set(), *(defined_names(cell) for cell in code_cells))
    for number, cell in own:
        for value, (first, last) in cell_fingerprints(cell, renamed).items():
            submission.fingerprints.setdefault(value, []).append(Fingerprint(number, first, last))
    return submission


def template_fingerprints(template_cells: Iterable[str]) -> set[int]:
    found: set[int] = set()
    for cell in template_cells:
        found |= set(cell_fingerprints(cell, defined_names(cell)))
    return found


def find_matches(
    code: Mapping[str, Sequence[str]],
    template_cells: Sequence[str] = (),
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[Match]:
    """The pairs of students whose own code is at least ``threshold`` alike, most alike first.

    ``code`` maps each student to their notebook's code cells, in order.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"the similarity threshold is {threshold}; expected a number in (0, 1]")
    submissions = [prepare(s, cells, template_cells) for s, cells in sorted(code.items())]
    ignored = template_fingerprints(template_cells)
    index: dict[int, list[int]] = defaultdict(list)
    for number, submission in enumerate(submissions):
        for value in submission.fingerprints:
            if value not in ignored:
                index[value].append(number)
    if len(submissions) >= COMMON_MIN_CLASS:
        limit = COMMON_FRACTION * len(submissions)
        ignored |= {value for value, owners in index.items() if len(owners) > limit}
    own = [
        {value for value in submission.fingerprints if value not in ignored}
        for submission in submissions
    ]
    pairs: dict[tuple[int, int], int] = defaultdict(int)
    for value, owners in index.items():
        if value in ignored:
            continue
        for i, first in enumerate(owners):
            for second in owners[i + 1 :]:
                pairs[first, second] += 1
    matches = []
    for (a, b), shared in pairs.items():
        smaller = min(len(own[a]), len(own[b]))
        score = shared / smaller if smaller else 0.0
        if shared >= MIN_SHARED and score >= threshold:
            common = own[a] & own[b]
            matches.append(
                Match(
                    submissions[a].student,
                    submissions[b].student,
                    round(score, 3),
                    shared,
                    _matching_cells(submissions[a], submissions[b], common),
                )
            )
    return sorted(matches, key=lambda match: (-match.score, match.first, match.second))


def _matching_cells(a: Submission, b: Submission, common: set[int]):
    lines: dict[tuple[int, int], tuple[set[int], set[int]]] = {}
    for value in common:
        for where_a in a.fingerprints[value]:
            for where_b in b.fingerprints[value]:
                first, second = lines.setdefault((where_a.cell, where_b.cell), (set(), set()))
                first.update(range(where_a.first_line, where_a.last_line + 1))
                second.update(range(where_b.first_line, where_b.last_line + 1))
    # Each cell is shown beside the one cell of the other it shares the most lines with.
    ranked = sorted(lines.items(), key=lambda item: -len(item[1][0]) - len(item[1][1]))
    used_a, used_b, pairs = set(), set(), []
    for (cell_a, cell_b), (first, second) in ranked:
        if cell_a not in used_a and cell_b not in used_b:
            used_a.add(cell_a)
            used_b.add(cell_b)
            pairs.append((cell_a, tuple(sorted(first)), cell_b, tuple(sorted(second))))
    return tuple(sorted(pairs))
