"""report.html as a reader sees it: headless Chromium opens the page at a desktop, a narrow
and a phone width, and as printed on A4, and checks that every figure loaded, that nothing
is wider than the page and that the page asked for nothing outside itself.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON
messages, each ended by a NUL byte, on the browser's file descriptors 3 and 4), so the test
needs no Python package beyond the standard library. The protocol sets the viewport exactly
(a headless window is never narrower than 500 px), reports every request the page makes and
takes full-page screenshots, which are kept in the test's temporary folder
(``report-in-browser*/``) for a person to look at. The report is opened as written: no
script is added to it.

Two pages are checked, in one browser: the session's full report (`written_report`), and the
same report made hostile to the layout (a long unbroken student name, a scan file name of
200 characters, code lines of 300 characters, long words in a heading, a quote, a list and
table cells, and a table of 14 wide columns).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from mnist_lab.report.document import markdown_to_html, write_report

INSTALL_HINT = (
    "The browser tests need Chromium: install it with `apt-get install chromium` "
    "(Debian/Ubuntu; .ci/run installs it in CI)."
)
PAGE_HEIGHT = 900
# A4 (210 mm) less the margins of HTML_STYLE's @page rule (15 mm a side), at 96 px an inch.
A4_CONTENT_WIDTH = round((210 - 2 * 15) / 25.4 * 96)
CALL_TIMEOUT_S = 60


@dataclass(frozen=True)
class View:
    width: int
    media: str  # "screen" or "print"


VIEWS = {
    "desktop": View(1280, "screen"),
    "narrow": View(800, "screen"),
    "phone": View(400, "screen"),
    "A4-print": View(A4_CONTENT_WIDTH, "print"),
}
PAGES = ("report", "hostile")

LONG_NAME = "Wolfeschlegelsteinhausenbergerdorff" * 4
LONG_SCAN_NAME = ("scanned_digit_zero_" * 11)[:196] + ".jpg"
# Code lines of 300 characters: one with spaces, one without.
LONG_CODE_LINE = ("history = model.fit(" + ", ".join(f"a{n}=value_{n}" for n in range(30)))[
    :299
] + ")"
UNBROKEN_CODE_LINE = 'path = "' + ("scans/digit_" * 30)[:291] + '"'
LONG_WORD = "Supercalifragilisticexpialidocious" * 5
WIDE_TABLE_COLUMNS = 14
HOSTILE_MARKDOWN = f"""
### Layout stress test {LONG_WORD}

**Your code** (cell 99):

```python student
{LONG_CODE_LINE}
print("a short line")
```

Given code (cell 100):

```python
{UNBROKEN_CODE_LINE}
```

```
{"plain_text_without_any_space_" * 10}
```

**Answer** (the student's own words):

> The model improved because {LONG_WORD} and `{"inline_code_without_spaces_" * 6}`.
>
> | model | note |
> | --- | --- |
> | A | {LONG_WORD} |

- A list item with a long word: {LONG_WORD}
- A link as text: https://example.org/{"a-very-long-path-segment-" * 8}

| {" | ".join(f"validation_accuracy_{n}" for n in range(WIDE_TABLE_COLUMNS))} |
| {" | ".join("---:" for _ in range(WIDE_TABLE_COLUMNS))} |
| {" | ".join(f"{0.9 + n / 1000:.4f}" for n in range(WIDE_TABLE_COLUMNS))} |
| {LONG_WORD} | {" | ".join("`(None, 28, 28, 1)`" for _ in range(WIDE_TABLE_COLUMNS - 1))} |
"""

# Run in the page once it has loaded: its figures, its width, and the outermost elements
# that reach past either edge of the page. An element inside a box that scrolls sideways
# (overflow-x auto or scroll) only widens that box, which is allowed on a screen; paper does
# not scroll, so in print every element must fit.
CHECK_PAGE = """
(() => {
  const printing = matchMedia("print").matches;
  const page = document.documentElement.clientWidth;
  const scrolls = (element) => ["auto", "scroll"].includes(getComputedStyle(element).overflowX);
  const inScrollBox = (element) => {
    for (let up = element.parentElement; up && up !== document.body; up = up.parentElement) {
      if (scrolls(up)) return true;
    }
    return false;
  };
  const outside = [];
  for (const element of document.body.querySelectorAll("*")) {
    const box = element.getBoundingClientRect();
    if ((box.right <= page + 0.5 && box.left >= -0.5) || (!printing && inScrollBox(element))) {
      continue;
    }
    if (outside.some((outer) => outer.element.contains(element))) continue;
    outside.push({element: element, box: box});
  }
  return {
    printing: printing,
    clientWidth: page,
    scrollWidth: document.documentElement.scrollWidth,
    scrollHeight: document.documentElement.scrollHeight,
    text: document.body.innerText,
    images: Array.from(document.images, (image) => ({
      alt: image.alt,
      complete: image.complete,
      naturalWidth: image.naturalWidth,
      naturalHeight: image.naturalHeight,
    })),
    outside: outside.map(({element, box}) => ({
      tag: element.tagName.toLowerCase(),
      left: Math.round(box.left),
      right: Math.round(box.right),
      text: (element.textContent || "").replace(/\\s+/g, " ").trim().slice(0, 80),
    })),
    scrollBoxes: Array.from(document.body.querySelectorAll("*"))
      .filter((element) => scrolls(element) && element.scrollWidth > element.clientWidth + 1)
      .map((element) => (element.textContent || "").replace(/\\s+/g, " ").trim().slice(0, 80)),
  };
})()
"""


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe: one browser, one tab."""

    def __init__(self, binary: str, folder: Path):
        self.log = folder / "chromium.log"
        self.profile = folder / "profile"
        # The browser reads commands on its fd 3 and writes its messages on its fd 4. Its
        # ends of the pipes are first moved to fds >= 10, so that the redirections below
        # cannot overwrite one another.
        to_browser, self._commands = os.pipe()
        self._messages, from_browser = os.pipe()
        theirs = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_browser, from_browser)]
        for fd in (to_browser, from_browser):
            os.close(fd)
        flags = [
            "--headless=new",
            "--no-sandbox",  # CI runs as root
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--remote-debugging-pipe",
            f"--user-data-dir={self.profile}",
            # Nothing may come from the network: any host name fails at once.
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "about:blank",
        ]
        redirect = f'exec "$@" 3<&{theirs[0]} 4>&{theirs[1]}'
        try:
            with self.log.open("wb") as log:
                self.process = subprocess.Popen(
                    ["bash", "-c", redirect, "bash", binary, *flags],
                    pass_fds=theirs,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
        finally:
            for fd in theirs:
                os.close(fd)
        self._received = bytearray()
        self._last_id = 0
        self.events: list[dict] = []
        try:
            target = self.call("Target.createTarget", url="about:blank")["targetId"]
            attached = self.call("Target.attachToTarget", targetId=target, flatten=True)
            self.session = attached["sessionId"]
            for method in ("Page.enable", "Network.enable"):
                self.call(method, session=self.session)
            self.call("Network.setCacheDisabled", session=self.session, cacheDisabled=True)
            # Paper and phones show no scroll bar beside the page, and a full-page screenshot
            # lays the page out again without one: so the check and the picture agree.
            self.call("Emulation.setScrollbarsHidden", session=self.session, hidden=True)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self._send("Browser.close", None, {})
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        for fd in (self._commands, self._messages):
            with contextlib.suppress(OSError):  # closed already
                os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)

    def call(self, method: str, *, session: str | None = None, **params) -> dict:
        """Send one command and wait for its reply; the events that come first are kept."""
        message_id = self._send(method, session, params)
        deadline = time.monotonic() + CALL_TIMEOUT_S
        while True:
            message = self._receive(deadline, method)
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"Chromium: {method} failed: {message['error']}")
                return message["result"]
            self.events.append(message)

    def wait_for(self, event: str) -> dict:
        deadline = time.monotonic() + CALL_TIMEOUT_S
        while True:
            for message in self.events:
                if message.get("method") == event:
                    return message
            self.events.append(self._receive(deadline, event))

    def load(self, page: Path, view: View, screenshot: Path) -> dict:
        """Open `page` in a viewport `view.width` px wide with `view.media` emulated, and
        return what CHECK_PAGE finds there, with "url" (the page's) and "requests" (every
        URL the page asked for); a full-page screenshot is saved as `screenshot`."""
        session = self.session
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session=session,
            width=view.width,
            height=PAGE_HEIGHT,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.call("Emulation.setEmulatedMedia", session=session, media=view.media)
        self.events.clear()
        url = page.resolve().as_uri()
        navigated = self.call("Page.navigate", session=session, url=url)
        if navigated.get("errorText"):
            raise RuntimeError(f"Chromium could not open {url}: {navigated['errorText']}")
        self.wait_for("Page.loadEventFired")
        evaluated = self.call(
            "Runtime.evaluate", session=session, expression=CHECK_PAGE, returnByValue=True
        )
        if "exceptionDetails" in evaluated:
            raise RuntimeError(f"The page check failed: {evaluated['exceptionDetails']}")
        result = evaluated["result"]["value"]
        result["url"] = url
        result["requests"] = [
            message["params"]["request"]["url"]
            for message in self.events
            if message.get("method") == "Network.requestWillBeSent"
        ]
        picture = self.call(
            "Page.captureScreenshot",
            session=session,
            format="png",
            optimizeForSpeed=True,
            captureBeyondViewport=True,
            clip={
                "x": 0,
                "y": 0,
                "width": result["scrollWidth"],
                "height": result["scrollHeight"],
                "scale": 1,
            },
        )
        screenshot.write_bytes(base64.b64decode(picture["data"]))
        return result

    def _send(self, method: str, session: str | None, params: dict) -> int:
        self._last_id += 1
        message = {"id": self._last_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        data = memoryview(json.dumps(message).encode() + b"\0")
        while data:
            data = data[os.write(self._commands, data) :]
        return self._last_id

    def _receive(self, deadline: float, waiting_for: str) -> dict:
        """The next message from the browser (a reply or an event)."""
        end = self._received.find(b"\0")
        while end < 0:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"Chromium did not answer {waiting_for} in time.{self._tail()}")
            if not select.select([self._messages], [], [], left)[0]:
                continue
            chunk = os.read(self._messages, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium quit while waiting for {waiting_for}.{self._tail()}")
            searched = len(self._received)
            self._received += chunk
            end = self._received.find(b"\0", searched)
        message = json.loads(self._received[:end])
        del self._received[: end + 1]
        return message

    def _tail(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"\nChromium's output ({self.log}):\n{text[-3000:]}" if text else ""


@pytest.fixture(scope="module")
def chromium() -> str:
    """The Chromium binary. A missing browser fails the tests rather than skipping them."""
    found = (
        shutil.which("chromium")
        or shutil.which("chromium-browser")
        or shutil.which("google-chrome")
    )
    if found is None:
        pytest.fail(
            f"No Chromium on PATH (chromium, chromium-browser, google-chrome). {INSTALL_HINT}"
        )
    return found


def _hostile_report(content, figures: dict[str, Path], folder: Path) -> Path:
    """The session's report with a long unbroken student name and scan file name, and
    HOSTILE_MARKDOWN added at its end; the session's figures are reused, not drawn again."""
    scan = content.scans[0]
    long_scan = folder / LONG_SCAN_NAME
    shutil.copyfile(scan.path, long_scan)
    hostile = dataclasses.replace(
        content,
        student_name=LONG_NAME,
        scans=(dataclasses.replace(scan, path=long_scan), *content.scans[1:]),
        figures=figures,
    )
    written = write_report(hostile, folder / "out")
    markdown = written["report.md"].read_text(encoding="utf-8") + HOSTILE_MARKDOWN
    images = {f"figures/{path.name}": path for path in (folder / "out" / "figures").iterdir()}
    page = folder / "hostile.html"
    page.write_text(markdown_to_html(markdown, images, title=LONG_NAME), encoding="utf-8")
    return page


@pytest.fixture(scope="module")
def pages(written_report, tmp_path_factory) -> dict[str, Path]:
    content, out_dir, written = written_report
    figures = {path.stem: path for path in (out_dir / "figures").iterdir()}
    hostile = _hostile_report(content, figures, tmp_path_factory.mktemp("hostile-report"))
    return {"report": written["report.html"], "hostile": hostile}


@pytest.fixture(scope="module")
def seen(chromium, pages, tmp_path_factory) -> dict[tuple[str, str], dict]:
    """Each page in each view, loaded once in one browser: (page, view) -> what the page
    check found. The screenshots, PAGE-VIEW.png, lie beside chromium.log in the folder."""
    folder = tmp_path_factory.mktemp("report-in-browser")
    with Chromium(chromium, folder) as browser:
        return {
            (page, view): browser.load(pages[page], VIEWS[view], folder / f"{page}-{view}.png")
            for page in PAGES
            for view in VIEWS
        }


CASES = [pytest.param(page, view, id=f"{page}-{view}") for page in PAGES for view in VIEWS]


@pytest.mark.parametrize(("page", "view"), CASES)
def test_every_figure_loads(seen, pages, page, view):
    result = seen[page, view]
    embedded = pages[page].read_text(encoding="utf-8").count('<img src="data:image/png;base64,')
    assert embedded >= 5, "The report should embed its figures."
    assert len(result["images"]) == embedded
    broken = [
        image["alt"]
        for image in result["images"]
        if not image["complete"] or image["naturalWidth"] == 0 or image["naturalHeight"] == 0
    ]
    assert not broken, f"Figures that did not load: {broken}"


@pytest.mark.parametrize(("page", "view"), CASES)
def test_nothing_is_wider_than_the_page(seen, page, view):
    result = seen[page, view]
    assert result["clientWidth"] == VIEWS[view].width
    assert result["printing"] == (VIEWS[view].media == "print")
    outside = "\n".join(
        f"  <{item['tag']}> spans {item['left']}..{item['right']} px: {item['text']!r}"
        for item in result["outside"]
    )
    assert not result["outside"], (
        f"Elements past the edge of the {VIEWS[view].width} px page:\n{outside}"
    )
    assert result["scrollWidth"] <= result["clientWidth"], (
        f"The page scrolls sideways: {result['scrollWidth']} px of content in a "
        f"{result['clientWidth']} px page."
    )


@pytest.mark.parametrize("view", ["desktop", "narrow"])
def test_report_needs_no_sideways_scrolling_on_a_wide_screen(seen, view):
    """The kit's own tables fit the page from 800 px up; no box of them scrolls sideways."""
    assert seen["report", view]["scrollBoxes"] == []


@pytest.mark.parametrize(("page", "view"), CASES)
def test_page_requests_nothing_outside_itself(seen, page, view):
    result = seen[page, view]
    outside = [
        url[:200]
        for url in result["requests"]
        if url != result["url"] and not url.startswith("data:image/png;base64,")
    ]
    assert not outside, f"The page requested: {outside}"


def test_hostile_content_is_on_the_page(seen):
    """The hostile page shows what makes it hostile (so the layout checks above are real)."""
    text = seen["hostile", "desktop"]["text"]
    for shown in (LONG_NAME, LONG_SCAN_NAME, LONG_CODE_LINE, UNBROKEN_CODE_LINE, LONG_WORD):
        assert shown in text
