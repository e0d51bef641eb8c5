"""Run the check catalogue over a submission's artefacts and give each verdict its points.

`score` is the one place where points are resolved: the rubric's points for a passed check,
0 otherwise. A check whose required artefact is missing fails with the reason, without
being called; a check that raises fails alone, so one surprise never stops the others.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Mapping

from mnist_lab.grading.artefacts import Missing
from mnist_lab.grading.checks import CHECKS, Verdict, check_name, check_title
from mnist_lab.grading.results import CheckResult
from mnist_lab.grading.rubric import CheckSpec, Rubric

logger = logging.getLogger(__name__)


def score(name: str, title: str, verdict: Verdict, spec: CheckSpec, seconds: float) -> CheckResult:
    """The check's result with its points from the rubric."""
    return CheckResult(
        name=name,
        title=title,
        passed=verdict.passed,
        points=spec.points if verdict.passed else 0.0,
        max_points=spec.points,
        message=verdict.message,
        visibility=spec.visibility,
        extra_credit=spec.extra_credit,
        seconds=round(seconds, 3),
    )


def run_check(check, artefacts: Mapping[str, object]) -> Verdict:
    """Call one check with the artefacts it names; never raises."""
    parameters = inspect.signature(check).parameters
    missing = [
        artefacts[name]
        for name, parameter in parameters.items()
        if parameter.default is inspect.Parameter.empty and isinstance(artefacts[name], Missing)
    ]
    if missing:
        return Verdict(False, describe_missing(missing))
    try:
        return check(**{name: artefacts[name] for name in parameters})
    except Exception as error:  # a check must never take the others down with it
        logger.exception("Check %s raised", check_name(check))
        return Verdict(
            False,
            f"The grader could not complete this check ({type(error).__name__}: {error}). "
            "Make sure your objects are what the lab asks for; if they are, tell your "
            "instructor.",
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
        text = f"{subject} {predicate}".rstrip()
        sentences.append(text if text.endswith(".") else text + ".")
    return "\n".join(sentences)


def run_checks(artefacts: Mapping[str, object], rubric: Rubric) -> tuple[CheckResult, ...]:
    """Every check of the catalogue, in order, scored with the rubric."""
    results = []
    for check in CHECKS:
        name = check_name(check)
        started = time.perf_counter()
        verdict = run_check(check, artefacts)
        elapsed = time.perf_counter() - started
        logger.info("%s: %s (%.2f s)", name, "passed" if verdict.passed else "failed", elapsed)
        results.append(score(name, check_title(check), verdict, rubric.checks[name], elapsed))
    return tuple(results)


def all_failed(rubric: Rubric, message: str) -> tuple[CheckResult, ...]:
    """Every check failed with the same message (a notebook that could not be run at all)."""
    verdict = Verdict(False, message)
    return tuple(
        score(check_name(c), check_title(c), verdict, rubric.checks[check_name(c)], 0.0)
        for c in CHECKS
    )
