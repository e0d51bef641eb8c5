"""Grading results: one frozen `CheckResult` per check, and `GradingResults` over them.

Totals are derived from the checks, never stored. `GradingResults` serialises to the
Gradescope autograder format (`to_gradescope_dict`), to JUnit XML for CI
(`to_junit_xml`), and to plain data for the trip from the checker process (`to_dict`,
`from_dict`). A hidden check's message is for instructors only: every student-facing form
(`student_message`, Gradescope's ``output``) shows just whether it passed and its points.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field

from mnist_lab.notebook.record import answer_title

HIDDEN_MESSAGE = {
    True: "Passed. This is a hidden check: its details are not shown.",
    False: "Not passed. This is a hidden check: its details are not shown.",
}
# Gradescope shows "after_published" tests to students only once grades are published.
GRADESCOPE_VISIBILITY = {"visible": "visible", "hidden": "after_published"}
# Characters XML 1.0 cannot hold (ANSI escapes in tracebacks, NULs in student output).
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class CheckResult:
    """What one check found: passed or not, the points it earned, and why."""

    name: str
    title: str
    passed: bool
    points: float
    max_points: float
    message: str
    visibility: str = "visible"
    extra_credit: bool = False
    seconds: float = 0.0

    @property
    def hidden(self) -> bool:
        return self.visibility == "hidden"

    def junit_properties(self) -> list[tuple[str, str]]:
        """The check's figures as JUnit test-case properties (pytest's junit.xml and ours)."""
        return [
            ("check", self.name),
            ("title", self.title),
            ("points", format_points(self.points)),
            ("max_points", format_points(self.max_points)),
            ("visibility", self.visibility),
            ("extra_credit", str(self.extra_credit).lower()),
        ]

    @property
    def student_message(self) -> str:
        """The message a student may read: the full one, or only pass/fail when hidden."""
        return HIDDEN_MESSAGE[self.passed] if self.hidden else self.message


@dataclass(frozen=True)
class ManualAnswer:
    """A part of the write-up the instructor grades by hand: never scored by a grader."""

    name: str  # the answer cell's grade_id, the rubric's [manual.NAME]
    points: float  # what the instructor may give it
    written: bool

    @property
    def title(self) -> str:
        return answer_title(self.name)

    @property
    def status(self) -> str:
        return "written, awaits your instructor" if self.written else "not written yet"

    @property
    def message(self) -> str:
        points = format_points(self.points)
        if self.written:
            return f"Written. Your instructor grades it by hand ({points} points)."
        return (
            f"Not written yet: the answer cell of your notebook is still empty. Write it in "
            f"your own words; your instructor grades it by hand ({points} points)."
        )


@dataclass(frozen=True)
class CellError:
    """A notebook cell that raised, timed out, was skipped or stopped the kernel."""

    cell_number: int  # 1-based, as Jupyter counts cells
    section: str
    kind: str
    message: str

    def where(self) -> str:
        """ "cell 13 (Step 3: Preprocess the data)", counting every cell from 1."""
        return f"cell {self.cell_number}" + (f" ({self.section})" if self.section else "")

    def describe(self) -> str:
        return f"{self.where()}: {self.message}"


@dataclass(frozen=True)
class GradingResults:
    """Every check's result for one submission, in the catalogue's order."""

    checks: tuple[CheckResult, ...]
    notebook: str
    seconds: float = 0.0
    cell_errors: tuple[CellError, ...] = ()
    notes: tuple[str, ...] = field(default=())
    junit_xml: str = ""  # pytest's own junit.xml from the checker; empty when none ran
    answers: tuple[ManualAnswer, ...] = ()  # graded by hand: in no score here

    @property
    def score(self) -> float:
        return sum(check.points for check in self.checks)

    @property
    def max_score(self) -> float:
        """The maximum without extra credit: what a complete lab earns."""
        return sum(check.max_points for check in self.checks if not check.extra_credit)

    @property
    def extra_credit_score(self) -> float:
        """The extra credit earned (already part of `score`)."""
        return sum(check.points for check in self.checks if check.extra_credit)

    @property
    def extra_credit_max(self) -> float:
        return sum(check.max_points for check in self.checks if check.extra_credit)

    @property
    def passed(self) -> tuple[str, ...]:
        return tuple(check.name for check in self.checks if check.passed)

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(check.name for check in self.checks if not check.passed)

    def check(self, name: str) -> CheckResult:
        """The result of the check called ``name``."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"no check named {name!r}; the checks are {', '.join(self.names)}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(check.name for check in self.checks)

    def summary_line(self) -> str:
        """ "Score: 85 / 100 (extra credit: 10 / 10)": the score includes extra credit earned."""
        line = f"Score: {format_points(self.score)} / {format_points(self.max_score)}"
        if any(check.extra_credit for check in self.checks):
            earned, available = self.extra_credit_score, self.extra_credit_max
            line += f" (extra credit: {format_points(earned)} / {format_points(available)})"
        return line

    def to_dict(self) -> dict:
        return {
            "notebook": self.notebook,
            "seconds": self.seconds,
            "checks": [asdict(check) for check in self.checks],
            "cell_errors": [asdict(error) for error in self.cell_errors],
            "notes": list(self.notes),
            "junit_xml": self.junit_xml,
            "answers": [asdict(answer) for answer in self.answers],
        }

    @classmethod
    def from_dict(cls, data: dict) -> GradingResults:
        return cls(
            checks=tuple(CheckResult(**check) for check in data["checks"]),
            notebook=data["notebook"],
            seconds=float(data.get("seconds", 0.0)),
            cell_errors=tuple(CellError(**error) for error in data.get("cell_errors", [])),
            notes=tuple(data.get("notes", [])),
            junit_xml=str(data.get("junit_xml", "")),
            answers=tuple(ManualAnswer(**answer) for answer in data.get("answers", [])),
        )

    def to_gradescope_dict(self) -> dict:
        """The ``results.json`` Gradescope's autograder harness reads.

        Hidden checks get visibility ``after_published`` and an output free of details. The
        answers graded by hand come last, worth 0 here (the instructor grades them), each
        saying whether it is written.
        """
        checks = [
            {
                "name": check.title,
                "number": str(number),
                "score": round(check.points, 4),
                "max_score": round(check.max_points, 4),
                "status": "passed" if check.passed else "failed",
                "output": check.student_message,
                "visibility": GRADESCOPE_VISIBILITY[check.visibility],
                "tags": ["extra credit"] if check.extra_credit else [],
            }
            for number, check in enumerate(self.checks, start=1)
        ]
        answers = [
            {
                "name": f"{answer.title} (graded by your instructor)",
                "number": str(number),
                "score": 0,
                "max_score": 0,
                "status": "passed" if answer.written else "failed",
                "output": answer.message,
                "visibility": "visible",
                "tags": ["graded by hand"],
            }
            for number, answer in enumerate(self.answers, start=len(self.checks) + 1)
        ]
        return {
            "score": round(self.score, 4),
            "execution_time": round(self.seconds, 1),
            "output": self.overview(),
            "tests": checks + answers,
        }

    def overview(self) -> str:
        """A few lines for the top of the feedback: the score, and what went wrong in cells."""
        lines = [self.summary_line() + "."]
        if self.answers:
            points = format_points(sum(answer.points for answer in self.answers))
            missing = [answer.title.lower() for answer in self.answers if not answer.written]
            lines.append(
                f"Your written answers ({points} points) are graded by your instructor, not "
                "here"
                + (f"; not written yet: {', '.join(missing)}." if missing else "; all written.")
            )
        lines += self.notes
        if self.cell_errors:
            lines.append("Cells of your notebook that did not run to the end:")
            lines += [f"- {error.describe()}" for error in self.cell_errors]
        return "\n".join(lines)

    def to_junit_xml(self) -> str:
        """JUnit XML, one test case per check, with the full (instructor) messages.

        Written when the checker ran no check (a notebook that could not be run): otherwise
        junit.xml is pytest's own (`junit_xml`), whose test cases this one mirrors.
        """
        suite = ET.Element(
            "testsuite",
            name=f"mnist-lab autograder: {_xml_text(self.notebook)}",
            tests=str(len(self.checks)),
            failures=str(len(self.failed)),
            errors="0",
            skipped="0",
            time=f"{self.seconds:.3f}",
        )
        properties = ET.SubElement(suite, "properties")
        for name, value in (("score", self.score), ("max_score", self.max_score)):
            ET.SubElement(properties, "property", name=name, value=format_points(value))
        for check in self.checks:
            case = ET.SubElement(
                suite,
                "testcase",
                classname="mnist-lab",
                name=f"test_{check.name}",
                time=f"{check.seconds:.3f}",
            )
            case_properties = ET.SubElement(case, "properties")
            for name, value in check.junit_properties():
                ET.SubElement(case_properties, "property", name=name, value=_xml_text(value))
            if not check.passed:
                failure = ET.SubElement(
                    case, "failure", message=_xml_text((check.message.splitlines() or [""])[0])
                )
                failure.text = _xml_text(check.message)
            else:
                ET.SubElement(case, "system-out").text = _xml_text(check.message)
        if self.cell_errors:
            ET.SubElement(suite, "system-err").text = _xml_text(
                "\n".join(error.describe() for error in self.cell_errors)
            )
        root = ET.Element("testsuites", name="mnist-lab grade")
        root.append(suite)
        ET.indent(root)
        return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")


def _xml_text(text: str) -> str:
    return XML_INVALID.sub("", str(text))


def format_points(value: float) -> str:
    """Points as people write them: 10, 7.5."""
    return f"{value:g}"
