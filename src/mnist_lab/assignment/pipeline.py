"""nbgrader's pipelines for the lab, and `configure`, which puts them in an nbgrader config.

Each list is nbgrader's own default for that step with the kit's few additions (see
`preprocessors`), so that `mnist-lab make-assignment` and ``nbgrader generate_assignment``
make the same template, and ``nbgrader autograde``/``generate_feedback`` grade as the lab
needs. The course directory's ``nbgrader_config.py`` calls `configure`.
"""

from __future__ import annotations

from pathlib import Path

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearHiddenTests,
    ClearMarkScheme,
    ClearOutput,
    ClearSolutions,
    ComputeChecksums,
    Execute,
    GetGrades,
    IgnorePattern,
    IncludeHeaderFooter,
    InstantiateTests,
    LimitOutput,
    LockCells,
    OverwriteKernelspec,
    SaveAutoGrades,
    SaveCells,
)
from traitlets.config import Config

from mnist_lab.assignment.preprocessors import (
    AddInstructorChecks,
    AwardExtraCredit,
    HideHiddenTests,
    IdentityPlaceholders,
    KitSource,
    NoteDuplicatedCells,
    NoteRestoredCells,
)
from mnist_lab.grading.rubric import DEFAULT_RUBRIC, load_rubric

GENERATE_ASSIGNMENT = [
    KitSource,  # the set-up cell installs the kit from where the instructor says
    AddInstructorChecks,  # the test cells of the rubric's own check files, if any
    IdentityPlaceholders,  # before the first ComputeChecksums: the template's own values
    IncludeHeaderFooter,
    InstantiateTests,
    LockCells,
    ClearSolutions,
    ClearOutput,
    CheckCellMetadata,
    ComputeChecksums,
    SaveCells,  # saves the source cells, hidden tests included, in the gradebook
    ClearHiddenTests,  # after ComputeChecksums and SaveCells, as in nbgrader
    ClearMarkScheme,
    ComputeChecksums,  # again, after ClearHiddenTests
    CheckCellMetadata,
]
# The same without a gradebook: what `mnist-lab make-assignment` runs.
GENERATE_TEMPLATE = [step for step in GENERATE_ASSIGNMENT if step is not SaveCells]

AUTOGRADE_SANITIZE = [
    ClearOutput,
    NoteDuplicatedCells,  # nbgrader's DeduplicateIds, saying so in the copy
    OverwriteKernelspec,
    NoteRestoredCells,  # nbgrader's OverwriteCells, saying so in the cell
    CheckCellMetadata,
]
AUTOGRADE = [
    Execute,  # a fresh kernel, every cell in order, errors allowed
    IgnorePattern,  # drops TensorFlow's log lines on stderr (see TENSORFLOW_NOISE)
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AwardExtraCredit,  # after SaveAutoGrades: bonus tests add extra credit
    AssignLatePenalties,
    CheckCellMetadata,
]
FEEDBACK = [
    GetGrades,
    HideHiddenTests,  # a hidden test's code and output never reach the student
    CSSHTMLHeaderPreprocessor,
]

# stderr output that is TensorFlow's (or absl's) logging, or a Python warning: nbgrader gives
# zero to a test cell that writes to stderr, so these lines are dropped before grading.
TENSORFLOW_NOISE = (
    r"(?m)^(?:[IWEF]\d{4} \d+:\d+:\d+\.\d+\s+\d+ [\w.]+:\d+\]"  # absl / C++ log lines
    r"|WARNING: All log messages before absl::InitializeLog\(\)"
    r"|\S+:\d+: \w*Warning: )"  # Python warnings
)


def configure(
    c: Config, *, rubric: str | Path = DEFAULT_RUBRIC, kit_source: str | None = None
) -> Config:
    """Set, in the nbgrader config ``c``, everything the lab needs; returns ``c``.

    The pipelines above; the rubric's cell time limit for each cell; deleted test cells put
    back; TensorFlow's stderr lines ignored; bonus points as extra credit from ``rubric``;
    what the template's set-up cell installs the kit from, ``kit_source`` (default: the
    kit's own release, `preprocessors.default_kit_source`).
    """
    limits = load_rubric(rubric).limits
    c.GenerateAssignment.preprocessors = GENERATE_ASSIGNMENT
    c.Autograde.sanitize_preprocessors = AUTOGRADE_SANITIZE
    c.Autograde.autograde_preprocessors = AUTOGRADE
    c.GenerateFeedback.preprocessors = FEEDBACK
    c.Execute.timeout = limits.cell_timeout_s
    c.NoteRestoredCells.add_missing_cells = True
    c.IgnorePattern.enabled = True
    c.IgnorePattern.pattern = TENSORFLOW_NOISE
    c.AwardExtraCredit.rubric = str(rubric)
    c.AddInstructorChecks.rubric = str(rubric)
    if kit_source is not None:
        c.KitSource.source = kit_source
    return c
