"""From a check's outcome to its points: the one place where the rubric's points are applied.

A check (a ``test_NAME`` function) ends in one of four ways, the same whether pytest ran it
in the checker or an nbgrader cell called it in the student's kernel:

- it returns: passed, with all its points, or with the part it gave through
  ``feedback.partial(fraction, message)``; its message is ``feedback.note(message)``'s;
- an ``assert`` fails: not passed, no points; the assert's message is the student's feedback;
- a name it needs is missing: not passed, and the message says why (`describe_missing`);
- it raises anything else: the check itself failed, which the message says, and grading goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from mnist_lab.grading.catalogue import Check
from mnist_lab.grading.checker.artefacts import Missing
from mnist_lab.grading.results import CheckResult, format_points
from mnist_lab.grading.rubric import CheckSpec, Rubric

logger = logging.getLogger(__name__)


class Feedback:
    """The ``feedback`` fixture: what a passing check says, and the part of its points."""

    def __init__(self) -> None:
        self.message = ""
        self.fraction = 1.0

    def note(self, message: str) -> None:
        """The message a student reads when the check passes."""
        self.message = str(message)

    def partial(self, fraction: float, message: str) -> None:
        """Award ``fraction`` (0 to 1) of the check's points, and say why."""
        if not isinstance(fraction, (int, float)) or not 0.0 <= fraction <= 1.0:
            raise ValueError(f"feedback.partial takes a fraction from 0 to 1, not {fraction!r}")
        self.fraction, self.message = float(fraction), str(message)


class MissingNames(Exception):
    """A check asked for names the notebook did not provide; raised before it is called."""

    def __init__(self, missing: Sequence[Missing]):
        super().__init__(describe_missing(list(missing)))


@dataclass(frozen=True)
class Verdict:
    """A check's outcome, before the rubric gives it points."""

    fraction: float  # of the check's points: 1.0 passed, 0.0 failed, between: partial credit
    message: str

    @property
    def passed(self) -> bool:
        return self.fraction >= 1.0


def verdict(check: Check, error: BaseException | None, feedback: Feedback | None) -> Verdict:
    """The verdict of a check that returned (``error`` None) or raised ``error``."""
    if error is None:
        feedback = feedback or Feedback()
        return Verdict(feedback.fraction, feedback.message or f"{check.title}.")
    if isinstance(error, MissingNames):
        return Verdict(0.0, str(error))
    if isinstance(error, AssertionError):
        return Verdict(0.0, str(error) or f"Not passed: {check.title}.")
    logger.error("Check %s raised %s: %s", check.name, type(error).__name__, error)
    return Verdict(
        0.0,
        f"The check itself failed, so it could not judge your work: it raised "
        f"{type(error).__name__}: {error}. This is a problem in the check, not necessarily in "
        "your notebook; tell your instructor.",
    )


def call_check(check: Check, function, values: dict[str, object]) -> Verdict:
    """Call ``function`` (the check's ``test_NAME``) with ``values`` for its fixtures, as pytest
    would, and give its verdict: a `Missing` value fails it unrun; the ``feedback`` fixture is
    made here. Never raises."""
    feedback = Feedback()
    arguments = {name: feedback if name == "feedback" else values[name] for name in check.fixtures}
    missing = [value for value in arguments.values() if isinstance(value, Missing)]
    if missing:
        return verdict(check, MissingNames(missing), feedback)
    try:
        function(**arguments)
    except Exception as error:  # an assert's verdict, or the check's own failure
        return verdict(check, error, feedback)
    return verdict(check, None, feedback)


def score(check: Check, spec: CheckSpec, verdict: Verdict, seconds: float) -> CheckResult:
    """The check's result with its points from the rubric."""
    points = spec.points * verdict.fraction
    message = verdict.message
    if 0.0 < verdict.fraction < 1.0:
        message = f"{format_points(points)} of {format_points(spec.points)} points: {message}"
    return CheckResult(
        name=check.name,
        title=check.title,
        passed=verdict.passed,
        points=round(points, 4),
        max_points=spec.points,
        message=message,
        visibility=spec.visibility,
        extra_credit=spec.extra_credit,
        seconds=round(seconds, 3),
    )


def describe_missing(missing: list[Missing]) -> str:
    """One sentence per reason: "`x_train_scaled` and `x_test_scaled` are not defined: ..."."""
    by_reason: dict[str, list[str]] = {}
    for item in missing:
        by_reason.setdefault(item.reason, []).append(item.name)
    sentences = []
    for reason, names in by_reason.items():
        if len(names) == 1:
            sentences.append(Missing(names[0], reason).describe())
            continue
        subject = ", ".join(f"`{n}`" for n in names[:-1]) + f" and `{names[-1]}`"
        predicate = "are" + reason[2:] if reason.startswith("is ") else reason
        predicate = predicate.replace(" assigns it", " assigns them")
        text = f"{subject} {predicate}".rstrip()
        sentences.append(text if text.endswith(".") else text + ".")
    return "\n".join(sentences)


def all_failed(rubric: Rubric, message: str) -> tuple[CheckResult, ...]:
    """Every check failed with the same message (a notebook that could not be run at all)."""
    failed = Verdict(0.0, message)
    return tuple(score(c, rubric.checks[c.name], failed, 0.0) for c in rubric.catalogue)
