"""write_report: report.md in the write-up's sections, a self-contained and safe report.html,
and classification_report.csv."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest

from mnist_lab.report import document

SECTION_HEADINGS = [
    "# Convolutional Deep Neural Network for Digit Classification",
    "## AIM",
    "## THEORY",
    "## NEURAL NETWORK MODEL",
    "## DESIGN STEPS",
    "## PROGRAM",
    "## OUTPUT",
    "### Training Loss, Validation Loss Vs Iteration Plot",
    "### Classification Report",
    "### Confusion Matrix",
    "### Test set predictions",
    "### New Sample Data Prediction",
    "### Improved model",
    "## RESULT",
]
BASIC_FIGURES = (
    "model_diagram",
    "accuracy_curve",
    "loss_curve",
    "confusion_matrix",
    "test_predictions",
)
IMAGE_LINK = re.compile(r"!\[[^\]]*\]\(([^)]+)\)")


@pytest.fixture(scope="module")
def markdown(written_report) -> str:
    _, _, written = written_report
    return written["report.md"].read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def html(written_report) -> str:
    _, _, written = written_report
    return written["report.html"].read_text(encoding="utf-8")


def test_write_report_returns_the_four_documents(written_report):
    _, out_dir, written = written_report
    assert written == {
        "report.md": out_dir / "report.md",
        "report.html": out_dir / "report.html",
        "report.pdf": out_dir / "report.pdf",
        "classification_report.csv": out_dir / "classification_report.csv",
    }
    assert all(path.is_file() for path in written.values())


@pytest.mark.parametrize("heading", SECTION_HEADINGS)
def test_markdown_has_section(markdown, heading):
    assert re.search(rf"^{re.escape(heading)}$", markdown, flags=re.MULTILINE), heading


def test_sections_come_in_write_up_order(markdown):
    positions = [markdown.index(f"{heading}\n") for heading in SECTION_HEADINGS]
    assert positions == sorted(positions)


def test_markdown_names_the_student_and_states_the_aim(markdown, written_report):
    content, _, _ = written_report
    assert f"**NAME:** {content.student_name}" in markdown
    assert f"**REGISTER NUMBER:** {content.register_number}" in markdown
    aim = content.record.sections["AIM"]
    assert aim.startswith("To develop a convolutional deep neural network")
    assert f"## AIM\n\n{aim}\n\n## THEORY" in markdown  # the notebook's own, in its place


def test_markdown_reports_measured_numbers(markdown):
    assert "98.16%" in markdown  # the lab model's test accuracy
    assert "0.9816" in markdown
    assert "99.27%" in markdown  # the improved model's
    assert "173,738" in markdown  # total parameters


def test_result_sentence(markdown):
    result = markdown.split("## RESULT", 1)[1]
    assert "reached 98.16% accuracy on the 500 MNIST test images" in result
    assert "classified 1 of 2 scanned handwritten digits correctly" in result


def test_markdown_image_links_exist(markdown, written_report):
    _, out_dir, _ = written_report
    links = IMAGE_LINK.findall(markdown)
    assert len(links) == 9
    for link in links:
        assert re.fullmatch(r"figures/\w+\.png", link), link
        assert (out_dir / link).is_file(), link


def test_markdown_tables_list_layers_epochs_and_scans(markdown):
    assert (
        "| 2 | `conv2d` | Conv2D | 32 filters 3x3, relu | `(None, 26, 26, 32)` | 320 |" in markdown
    )
    assert re.search(r"^\| 5 \| 0\.\d{4} \| 0\.\d{4} \| 0\.\d{4} \| 0\.\d{4} \|$", markdown, re.M)
    assert "| 2 | `1_gray.png` | 1 | 7 |" in markdown
    assert "1 of 2 scanned digits with a known label were classified correctly" in markdown


def test_html_embeds_every_image(html, markdown):
    assert 'src="figures/' not in html
    sources = re.findall(r'<img src="([^"]*)"', html)
    assert len(sources) == len(IMAGE_LINK.findall(markdown))
    assert all(source.startswith("data:image/png;base64,iVBORw0KGgo") for source in sources)


def test_html_loads_nothing_from_outside(html):
    assert not re.search(r"https?://", html)
    assert not re.search(r"<(script|link|iframe)\b", html)
    assert "<style>" in html
    assert "<table>" in html


@pytest.mark.parametrize(
    ("name", "forbidden", "shown"),
    [
        ("<script>alert(1)</script>", "<script", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        (
            '<img src=x onerror="alert(1)">',
            "<img src=x",
            "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;",
        ),
        ("[click](javascript:alert(1))", "<a ", "[click](javascript:alert(1))"),
        ("**Jane** _Doe_", "<strong>Jane", "**Jane** _Doe_"),
        ("Jane | Doe &amp; `x`", "<code>x", "Jane | Doe &amp;amp; `x`"),
    ],
    ids=["script", "img-onerror", "link", "emphasis", "pipe-entity-backtick"],
)
def test_student_text_cannot_inject_markup(written_report, tmp_path, name, forbidden, shown):
    content, out_dir, _ = written_report
    figures = {path.stem: path for path in (out_dir / "figures").iterdir()}
    hostile = dataclasses.replace(content, student_name=name, register_number=name, figures=figures)
    html = document.write_report(hostile, tmp_path)["report.html"].read_text(encoding="utf-8")
    assert forbidden not in html
    assert f"<strong>NAME:</strong> {shown}</p>" in html
    assert f"<strong>REGISTER NUMBER:</strong> {shown}</p>" in html


def test_classification_report_csv(written_report):
    content, _, written = written_report
    frame = pd.read_csv(written["classification_report.csv"], dtype={"class": str})
    assert list(frame.columns) == ["class", "precision", "recall", "f1-score", "support"]
    assert frame["class"].tolist() == [
        *map(str, range(10)),
        "accuracy",
        "macro avg",
        "weighted avg",
    ]
    digits = frame.iloc[:10]
    assert digits["support"].tolist() == np.bincount(content.y_true, minlength=10).tolist()
    assert frame.set_index("class").loc["accuracy", "support"] == len(content.y_true)
    accuracy = np.mean(content.y_true == content.y_pred)
    assert frame.set_index("class").loc["accuracy", "f1-score"] == pytest.approx(accuracy)
    assert digits[["precision", "recall", "f1-score"]].stack().between(0, 1).all()


def test_report_without_scans_or_improved_model(make_content, written_report, tmp_path):
    _, out_dir, _ = written_report
    figures = {name: out_dir / "figures" / f"{name}.png" for name in BASIC_FIGURES}
    content = make_content(scans=(), improved=None, figures=figures)
    markdown = document.write_report(content, tmp_path)["report.md"].read_text(encoding="utf-8")
    assert "### New Sample Data Prediction" in markdown
    assert "No scanned handwritten digits were supplied" in markdown
    assert "### Improved model" not in markdown
    assert "scanned_digits.png" not in markdown
    # Figures drawn elsewhere are copied next to the report.
    assert sorted(path.name for path in (tmp_path / "figures").iterdir()) == sorted(
        f"{name}.png" for name in figures
    )


def test_report_without_training_history(make_content, written_report, tmp_path):
    _, out_dir, _ = written_report
    figures = {name: out_dir / "figures" / f"{name}.png" for name in BASIC_FIGURES}
    content = make_content(scans=(), improved=None, figures=figures)
    content = dataclasses.replace(content, model=dataclasses.replace(content.model, history={}))
    markdown = document.write_report(content, tmp_path)["report.md"].read_text(encoding="utf-8")
    assert "No training history was exported" in markdown
    assert "| Epoch |" not in markdown


@pytest.mark.parametrize(
    ("layers_fixture", "scans", "expected"),
    [
        ("lab_layers", "all", "A convolutional deep neural network was developed"),
        ("mlp_layers", "all", "A deep neural network (without convolution layers)"),
        ("lab_layers", "none", "no scanned handwritten digits were supplied"),
        ("lab_layers", "unlabelled", "gave predictions for 1 scanned handwritten digits"),
    ],
)
def test_result_sentence_variants(make_content, request, layers_fixture, scans, expected):
    content = make_content(improved=None)
    layers = request.getfixturevalue(layers_fixture)
    chosen = {
        "all": content.scans,
        "none": (),
        "unlabelled": tuple(scan for scan in content.scans if scan.label is None),
    }[scans]
    model = dataclasses.replace(content.model, layers=layers)
    sentence = document.result_sentence(dataclasses.replace(content, model=model, scans=chosen))
    assert expected in sentence
    assert "98.16%" in sentence


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("Jane Doe", "Jane Doe"),
        ("a_b*c", r"a\_b\*c"),
        ("<b>", r"\<b\>"),
        ("x|y", r"x\|y"),
        ("line\nbreak", "line break"),
    ],
)
def test_escape_markdown(text, escaped):
    assert document.escape_markdown(text) == escaped


# The notebook's own write-up, answers and program ---------------------------------------


def test_the_student_s_answers_stand_in_their_sections(markdown, written_report):
    content, _, _ = written_report
    sections = re.split(r"^## ", markdown, flags=re.M)
    by_heading = {part.split("\n", 1)[0]: part for part in sections[1:]}
    for section, answers in content.record.answers.items():
        for answer in answers:
            first_words = " ".join(answer.text.split()[:8])
            assert f"**{answer.title}** (the student's own words):" in by_heading[section]
            assert f"> {first_words}" in " ".join(by_heading[section].split()).replace(">  ", "> ")


def test_an_answer_not_written_says_so(make_content, tmp_path):
    content = make_content()
    record = dataclasses.replace(
        content.record,
        answers={
            section: tuple(dataclasses.replace(a, text="YOUR ANSWER HERE") for a in answers)
            for section, answers in content.record.answers.items()
        },
    )
    written = document.write_report(dataclasses.replace(content, record=record), tmp_path / "r")
    text = written["report.md"].read_text()
    assert text.count(document.NOT_WRITTEN) == 4
    assert "YOUR ANSWER HERE" not in text


def test_program_holds_every_code_cell_and_marks_the_student_s(markdown, html, written_report):
    content, _, _ = written_report
    program = markdown.split("## PROGRAM", 1)[1].split("## OUTPUT", 1)[0]
    for cell in content.record.program:
        label = "**Your code**" if cell.students else "Given code"
        assert f"{label} (cell {cell.number}):" in program
    assert "### BEGIN SOLUTION" not in program  # nbgrader's markers are not the program
    assert "run_check" not in markdown  # the check cells, hidden ones included, are left out
    students = sum(cell.students for cell in content.record.program)
    assert html.count('class="student-code language-python"') == students > 0
    assert '<span style="color' in html  # highlighted


def test_notebook_markdown_cannot_break_the_report(make_content, tmp_path):
    """An answer with an unclosed code fence, a top-level heading and an image link: the
    fence ends with the answer, the heading sits below the section's, the image is not
    fetched (its alt text stands in its place)."""
    content = make_content()
    hostile = (
        "# My heading\n\n![secret](/etc/passwd) and ![remote](http://example.com/x.png)\n\n"
        "```python\nprint('never closed')"
    )
    answers = dict(content.record.answers)
    first = answers["THEORY"][0]
    answers["THEORY"] = (dataclasses.replace(first, text=hostile),)
    record = dataclasses.replace(content.record, answers=answers)
    written = document.write_report(dataclasses.replace(content, record=record), tmp_path / "r")
    text, page = written["report.md"].read_text(), written["report.html"].read_text()
    assert "> ### My heading" in text
    assert "[image: secret]" in page and "[image: remote]" in page
    assert "/etc/passwd" not in page.replace("[image: secret]", "")
    assert "example.com" not in page
    # The fence closed with the answer: the next section is still a heading, not code.
    assert "<h2>NEURAL NETWORK MODEL</h2>" in page


def test_a_notebook_without_the_write_up_says_which_sections_it_lacks(make_content, tmp_path):
    from mnist_lab.notebook.record import LabRecord

    written = document.write_report(make_content(record=LabRecord()), tmp_path / "r")
    text = written["report.md"].read_text()
    for section in ("AIM", "THEORY", "DESIGN STEPS"):
        assert f"*The notebook has no {section} section.*" in text
    assert "*The notebook has no code.*" in text
