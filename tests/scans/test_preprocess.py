"""Scans to MNIST-style 28x28 views: geometry, polarity, modes, lighting, the digit's pieces
and loops, and clear errors."""

from __future__ import annotations

import importlib.util
import io
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps
from scipy import ndimage

from mnist_lab.scans import preprocess
from mnist_lab.scans.preprocess import (
    BOX_SIZE,
    FRAME_SIZE,
    ScanError,
    load_image,
    naive_preprocess,
    prepare_for_model,
    to_mnist,
)

PAPER = 235
INK = 30

# Digits as pen strokes in a unit box (x right, y down); asymmetric so rotations show.
SHAPES = {
    "seven": [[(0.15, 0.05), (0.85, 0.05), (0.45, 0.95)]],
    "four": [[(0.55, 0.02), (0.1, 0.65), (0.9, 0.65)], [(0.7, 0.3), (0.7, 0.98)]],
    "one": [[(0.5, 0.02), (0.48, 0.98)]],
    "zero": [[(0.5, 0.02), (0.2, 0.3), (0.25, 0.85), (0.6, 0.98), (0.8, 0.6), (0.75, 0.15),
              (0.5, 0.02)]],
}  # fmt: skip


def draw_digit(
    shape: str = "seven",
    *,
    size: tuple[int, int] = (160, 200),
    box: tuple[int, int, int, int] = (40, 40, 120, 160),
    pen: int = 9,
) -> Image.Image:
    """A dark-on-light 'L' image of a digit drawn in ``box`` (left, top, right, bottom)."""
    image = Image.new("L", size, PAPER)
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = box
    for stroke in SHAPES[shape]:
        points = [(left + x * (right - left), top + y * (bottom - top)) for x, y in stroke]
        draw.line(points, fill=INK, width=pen, joint="curve")
    return image


def ink_box(view: np.ndarray, level: float = 0.05) -> tuple[int, int]:
    """Height and width of the box around pixels brighter than ``level``."""
    rows, cols = np.nonzero(view > level)
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def similar(first: np.ndarray, second: np.ndarray) -> float:
    """Correlation of two views (1.0 = the same picture)."""
    return float(np.corrcoef(first.ravel(), second.ravel())[0, 1])


@pytest.fixture(scope="module")
def upright() -> np.ndarray:
    return to_mnist(draw_digit())


@pytest.mark.parametrize(
    "make_input",
    [
        pytest.param(lambda tmp: draw_digit(), id="pil-image"),
        pytest.param(lambda tmp: np.asarray(draw_digit()), id="uint8-array"),
        pytest.param(
            lambda tmp: np.asarray(draw_digit(), dtype=np.float32) / 255, id="float-array"
        ),
        pytest.param(lambda tmp: _saved(draw_digit(), tmp / "digit.png"), id="png-path"),
        pytest.param(lambda tmp: str(_saved(draw_digit(), tmp / "digit.jpg")), id="jpeg-str"),
    ],
)
def test_view_is_28x28_float32_in_unit_range(make_input, tmp_path):
    view = to_mnist(make_input(tmp_path))
    assert view.shape == (FRAME_SIZE, FRAME_SIZE)
    assert view.dtype == np.float32
    assert view.min() >= 0.0 and view.max() <= 1.0
    assert view.max() > 0.9, "strokes should reach full white as in MNIST"


def test_prepare_for_model_adds_batch_and_channel_axes(upright):
    batch = prepare_for_model(draw_digit())
    assert batch.shape == (1, FRAME_SIZE, FRAME_SIZE, 1)
    assert batch.dtype == np.float32
    np.testing.assert_array_equal(batch[0, :, :, 0], upright)


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize(
    "box",
    [(40, 40, 120, 160), (5, 5, 60, 80), (90, 120, 155, 195)],
    ids=["centred", "top-left", "bottom-right"],
)
def test_centre_of_mass_is_at_frame_centre(shape, box):
    view = to_mnist(draw_digit(shape, box=box))
    row, col = ndimage.center_of_mass(view)
    assert abs(row - 14) <= 1.0 and abs(col - 14) <= 1.0, (row, col)


@pytest.mark.parametrize(
    ("box", "tall"),
    [((40, 20, 120, 180), True), ((10, 60, 150, 130), False), ((30, 40, 130, 140), None)],
    ids=["tall", "wide", "square"],
)
def test_digit_fits_the_20x20_box_with_aspect_kept(box, tall):
    view = to_mnist(draw_digit("four", box=box))
    height, width = ink_box(view)
    assert max(height, width) in (BOX_SIZE - 1, BOX_SIZE, BOX_SIZE + 1)
    if tall is True:
        assert width < height - 3
    elif tall is False:
        assert height < width - 3
    else:
        assert abs(height - width) <= 4


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_light_on_dark_gives_the_same_view(shape):
    dark_on_light = draw_digit(shape)
    light_on_dark = ImageOps.invert(dark_on_light)
    assert similar(to_mnist(dark_on_light), to_mnist(light_on_dark)) > 0.95


@pytest.mark.parametrize("side", [28, 112], ids=["as-is", "enlarged"])
def test_mnist_digits_come_back_as_they_were(side, mnist_path):
    """Already white-on-black MNIST digits come back close to the originals."""
    with np.load(mnist_path) as npz:
        digits = npz["x_test"][:10]
    for digit in digits:
        image = Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC)
        assert similar(to_mnist(image), digit / 255.0) > 0.85


@pytest.mark.parametrize("pen", [1, 3, 20], ids=["hairline", "ballpoint", "marker"])
def test_stroke_width_is_normalised(pen, upright):
    """Thin pen and thick marker both come out with MNIST-like strokes."""
    view = to_mnist(draw_digit(pen=pen))
    assert 0.6 < view.sum() / upright.sum() < 1.8
    assert similar(view, upright) > 0.8


def _with_transparency(image: Image.Image, mode: str) -> Image.Image:
    """Ink as opacity on a transparent, black background (wrong unless alpha is honoured)."""
    ink = ImageOps.invert(image)
    colour = "L" if mode == "LA" else "RGB"
    transparent = Image.merge(
        mode, [Image.new("L", image.size, 0)] * len(colour) + [ink]
    )  # black everywhere, opaque only where the ink is
    return transparent


@pytest.mark.parametrize(
    "convert",
    [
        pytest.param(lambda im: im.convert("RGB"), id="RGB"),
        pytest.param(lambda im: _with_transparency(im, "RGBA"), id="RGBA-transparent"),
        pytest.param(lambda im: im.convert("RGBA"), id="RGBA-opaque"),
        pytest.param(lambda im: _with_transparency(im, "LA"), id="LA"),
        pytest.param(
            lambda im: im.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE), id="P"
        ),
        pytest.param(lambda im: im.convert("CMYK"), id="CMYK"),
        pytest.param(lambda im: im.convert("1", dither=Image.Dither.NONE), id="1-bit"),
        pytest.param(lambda im: im.convert("1"), id="1-bit-dithered"),
        pytest.param(lambda im: Image.fromarray(np.asarray(im).astype(np.uint16) * 257), id="I;16"),
        pytest.param(lambda im: im.convert("I"), id="I"),
        pytest.param(lambda im: im.convert("F"), id="F"),
    ],
)
def test_every_image_mode_gives_the_same_view(convert, upright):
    converted = convert(draw_digit())
    assert similar(to_mnist(converted), upright) > 0.95, converted.mode


@pytest.mark.parametrize(
    ("orientation", "stored"),
    [
        (3, Image.Transpose.ROTATE_180),
        (6, Image.Transpose.ROTATE_90),
        (8, Image.Transpose.ROTATE_270),
    ],
)
def test_exif_orientation_is_applied(orientation, stored, tmp_path, upright):
    """A camera stores the pixels sideways and says how to turn them; the view is upright."""
    path = tmp_path / "sideways.png"
    exif = Image.Exif()
    exif[0x0112] = orientation
    draw_digit().transpose(stored).save(path, exif=exif)
    assert similar(to_mnist(path), upright) > 0.95
    assert similar(to_mnist(Image.open(path)), upright) > 0.95
    assert similar(to_mnist(np.asarray(Image.open(path))), upright) < 0.8, "test is too weak"


def _lit(image: Image.Image, light: np.ndarray) -> Image.Image:
    return Image.fromarray((np.asarray(image, dtype=np.float32) * light).astype(np.uint8))


@pytest.mark.parametrize(
    "make_light",
    [
        pytest.param(lambda h, w: np.linspace(1.0, 0.35, w)[None, :].repeat(h, 0), id="gradient"),
        pytest.param(
            lambda h, w: np.where(np.arange(w)[None, :] < w * 0.3, 0.5, 1.0).repeat(h, 0),
            id="hard-shadow",
        ),
        pytest.param(
            lambda h, w: np.where(np.arange(w)[None, :] < w * 0.65, 0.35, 1.0).repeat(h, 0),
            id="shadow-over-most-of-the-page",
        ),
        pytest.param(
            lambda h, w: 1.0 - 0.6 * np.hypot(*np.mgrid[-1 : 1 : h * 1j, -1 : 1 : w * 1j]) / 1.5,
            id="vignette",
        ),
    ],
)
def test_uneven_lighting_leaves_no_background_ink(make_light, upright):
    image = draw_digit()
    lit = _lit(image, make_light(image.height, image.width))
    view = to_mnist(lit)
    assert similar(view, upright) > 0.9
    assert max(ink_box(view)) <= BOX_SIZE + 1, "lighting was taken for ink"


def test_specks_away_from_the_digit_are_ignored(upright):
    image = draw_digit(size=(300, 300), box=(100, 60, 200, 240))
    draw = ImageDraw.Draw(image)
    for x, y in [(20, 20), (270, 40), (30, 280), (280, 270)]:
        draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=INK)
    assert similar(to_mnist(image), upright) > 0.9


def test_specks_beside_the_strokes_are_ignored(upright):
    """Dust as dark as the ink, a pen width or two from a stroke, is not a piece of the digit."""
    image = draw_digit()
    draw = ImageDraw.Draw(image)
    # Beside the bar, the stem and the corner of the seven drawn in (40, 40, 120, 160).
    for x, y in [(60, 30), (100, 55), (70, 110), (132, 40)]:
        draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=INK)
    view = to_mnist(image)
    assert similar(view, upright) > 0.95
    assert topology(view) == topology(upright)


# The hard cases of scripts/make_sample_images.py: digits drawn the way real photos defeated
# the preprocessing, each with the ink the pen laid down, to compare with what came out.
def _load_generator():
    path = Path(__file__).resolve().parents[2] / "scripts" / "make_sample_images.py"
    spec = importlib.util.spec_from_file_location("make_sample_images", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it runs
    spec.loader.exec_module(module)
    return module


GENERATOR = _load_generator()
HARD_CASES = {case.name: case for case in GENERATOR.HARD_CASES}
# A view's pixel is ink from this level on (MNIST's strokes and most of their grey edges),
# and paper below VIEW_PAPER.
VIEW_INK = 0.3
VIEW_PAPER = 0.1


def hard_cases(*names: str) -> list:
    """(case, variant) parameters for the named hard cases (all when none is named)."""
    return [
        pytest.param(HARD_CASES[name], variant, id=f"{name}_{variant + 1}")
        for name in names or HARD_CASES
        for variant in range(GENERATOR.HARD_CASE_VARIANTS)
    ]


@pytest.fixture(scope="module")
def rendered() -> dict:
    """Each hard case's image, the ink drawn (at half its faintest stroke) and its view."""
    cache = {}

    def render(case, variant):
        if (case.name, variant) not in cache:
            sample, drawn = GENERATOR.render_hard_case(case, variant)
            ink = drawn > 0.5 * min(case.strength or (1.0,))
            view = to_mnist(Image.open(io.BytesIO(sample.data)))
            cache[case.name, variant] = (ink, view)
        return cache[case.name, variant]

    return render


def topology(image: np.ndarray) -> tuple[int, int]:
    """The ink's pieces (8-connected) and loops: background regions it encloses (4-connected).

    ``image`` is a view (ink from VIEW_INK on; a loop shows paper, below VIEW_PAPER: one
    grey pixel enclosed is a notch the resizing closed) or a drawing's ink mask (a loop is
    at least one pixel of the 20x20 box across; less is a sliver where strokes overlap).
    """
    ink = image if image.dtype == bool else image > VIEW_INK
    _, pieces = ndimage.label(ink, structure=np.ones((3, 3)))
    holes, count = ndimage.label(ndimage.binary_fill_holes(ink) & ~ink)
    indices = np.arange(1, count + 1)
    if image.dtype == bool:
        rows, cols = np.nonzero(ink)
        pixel = max(np.ptp(rows), np.ptp(cols)) / BOX_SIZE
        depths = ndimage.maximum(ndimage.distance_transform_edt(holes > 0), holes, indices)
        loops = np.asarray(depths) >= pixel / 2
    else:
        loops = np.asarray(ndimage.minimum(image, holes, indices)) < VIEW_PAPER
    return pieces, int(np.count_nonzero(loops))


def shape(ink: np.ndarray, level: float) -> np.ndarray:
    """The ink cropped to its box, fitted into 20x20 (aspect kept) and softened."""
    rows, cols = np.nonzero(ink > level)
    crop = np.asarray(ink, dtype=np.float32)[
        rows.min() : rows.max() + 1, cols.min() : cols.max() + 1
    ]
    scale = BOX_SIZE / max(crop.shape)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    small = np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.BOX))
    fitted = np.zeros((BOX_SIZE, BOX_SIZE), dtype=np.float32)
    top, left = (BOX_SIZE - small.shape[0]) // 2, (BOX_SIZE - small.shape[1]) // 2
    fitted[top : top + small.shape[0], left : left + small.shape[1]] = small
    return ndimage.gaussian_filter(fitted, 1.0)


@pytest.mark.parametrize(("case", "variant"), hard_cases())
def test_hard_cases_show_the_whole_digit(case, variant, rendered):
    """Every piece the pen drew is in the view: a part left out changes the digit's shape."""
    ink, view = rendered(case, variant)
    assert similar(shape(view, VIEW_INK), shape(ink, 0.5)) > 0.85


@pytest.mark.parametrize(("case", "variant"), hard_cases())
def test_hard_cases_keep_the_digits_loops_and_cut_no_stroke(case, variant, rendered):
    """As many loops as drawn; no more pieces than drawn (thickening may join them)."""
    ink, view = rendered(case, variant)
    pieces, loops = topology(ink)
    view_pieces, view_loops = topology(view)
    assert view_loops == loops
    assert 1 <= view_pieces <= pieces


@pytest.mark.parametrize(("case", "variant"), hard_cases("8_marker"))
def test_marker_eight_stays_one_piece_with_two_loops(case, variant, rendered):
    """Thinning a broad marker's strokes must not cut the 8's narrow waist or close a loop."""
    ink, view = rendered(case, variant)
    assert topology(ink) == (1, 2), "the drawing itself should be one piece with two loops"
    assert topology(view) == (1, 2)


def test_thinning_a_marker_keeps_its_narrow_waist():
    """Strokes thinned to MNIST's width, but not the quick thin stroke that joins the loops."""
    image = Image.new("L", (600, 800), PAPER)
    draw = ImageDraw.Draw(image)
    draw.ellipse((180, 190, 420, 395), outline=INK, width=90)
    draw.ellipse((170, 405, 430, 620), outline=INK, width=90)
    draw.line([(300, 380), (300, 420)], fill=INK, width=24)  # the waist, a quarter as wide
    view = to_mnist(image)
    assert topology(view) == (1, 2)
    # The loops' strokes, a fifth of the digit's height, were thinned all the same: left as
    # drawn, the ink would be 0.43 of the digit's height squared.
    rows, _ = np.nonzero(view > VIEW_INK)
    assert view.sum() < 0.4 * (np.ptp(rows) + 1) ** 2


@pytest.mark.parametrize(("case", "variant"), hard_cases("5_lifted-bar", "5_light-bar"))
def test_lifted_bar_five_keeps_its_bar_and_its_body(case, variant, rendered):
    """A 5 whose bar does not touch its body, in faint ink, keeps both, whichever is fainter."""
    ink, view = rendered(case, variant)
    assert topology(ink)[0] == 2, "the drawing itself should be a bar apart from a body"
    rows, cols = np.nonzero(view > VIEW_INK)
    height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
    assert height > width, "the body is missing: a 5 is taller than wide"
    top_rows = view[rows.min() : rows.min() + max(1, round(0.2 * height))] > VIEW_INK
    bar = np.flatnonzero(top_rows.any(axis=0))
    assert np.ptp(bar) + 1 >= 0.5 * width, "the bar is missing from the top of the 5"
    assert topology(view)[1] == 0


@pytest.mark.parametrize(("case", "variant"), hard_cases("7_broken", "1_dotted"))
def test_broken_line_keeps_its_whole_extent(case, variant, rendered):
    """A pen that skips leaves pieces a gap apart: all of them are the digit, none is a speck."""
    ink, view = rendered(case, variant)
    assert topology(ink)[0] > 2, "the drawing itself should be broken into pieces"
    ink_rows, ink_cols = np.nonzero(ink)
    view_rows, view_cols = np.nonzero(view > VIEW_INK)
    drawn = (np.ptp(ink_rows) + 1) / (np.ptp(ink_cols) + 1)
    shown = (np.ptp(view_rows) + 1) / (np.ptp(view_cols) + 1)
    # The view's box is the drawing's, scaled to 20 pixels (less a pixel of thickening).
    assert abs(shown - drawn) <= 0.25 * drawn, (shown, drawn)


def test_naive_preprocess_is_the_write_ups_step():
    image = draw_digit()
    plain = naive_preprocess(image)
    inverted = naive_preprocess(image, invert=True)
    expected = np.asarray(image.resize((28, 28)), dtype=np.float32) / 255.0
    assert plain.shape == inverted.shape == (1, 28, 28, 1)
    np.testing.assert_allclose(plain[0, :, :, 0], expected)
    np.testing.assert_allclose(inverted, 1.0 - plain)


def _saved(image: Image.Image, path: Path) -> Path:
    image.save(path)
    return path


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def _truncated(tmp: Path, suffix: str) -> Path:
    path = _saved(draw_digit(size=(300, 300)), tmp / f"full{suffix}")
    data = path.read_bytes()
    cut = tmp / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    return cut


def _blank(tmp: Path, gradient: bool) -> Path:
    rng = np.random.default_rng(0)
    paper = np.full((200, 160), 230.0) + rng.normal(0, 3, (200, 160))
    if gradient:
        paper *= np.linspace(1.0, 0.6, 160)[None, :]
    return _saved(Image.fromarray(paper.clip(0, 255).astype(np.uint8)), tmp / "blank.png")


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("make_path", "message"),
    [
        pytest.param(lambda tmp: tmp / "missing.png", "No file at", id="missing-file"),
        pytest.param(lambda tmp: tmp, "is a directory", id="directory"),
        pytest.param(lambda tmp: _write(tmp / "empty.png", b""), "is empty", id="empty-file"),
        pytest.param(
            lambda tmp: _write(tmp / "notes.png", b"these are my notes, not a picture\n"),
            "is not an image",
            id="not-an-image",
        ),
        pytest.param(lambda tmp: _truncated(tmp, ".png"), "truncated", id="truncated-png"),
        pytest.param(lambda tmp: _truncated(tmp, ".jpg"), "truncated", id="truncated-jpeg"),
        pytest.param(
            lambda tmp: _saved(Image.new("L", (5, 40), 255), tmp / "tiny.png"),
            "only 5x40 pixels",
            id="tiny-image",
        ),
        pytest.param(
            lambda tmp: _write(tmp / "bomb.png", _png_claiming(9000, 9000)),
            "expected at most",
            id="bomb-over-our-limit",
        ),
        pytest.param(
            lambda tmp: _write(tmp / "bomb.png", _png_claiming(60000, 60000)),
            "too many pixels",
            id="bomb-over-pillow-limit",
        ),
        pytest.param(lambda tmp: _blank(tmp, gradient=False), "No ink found", id="blank-page"),
        pytest.param(lambda tmp: _blank(tmp, gradient=True), "No ink found", id="blank-shaded"),
    ],
)
def test_bad_input_raises_scan_error_saying_what_and_how(make_path, message, tmp_path):
    path = make_path(tmp_path)
    with pytest.raises(ScanError, match=message) as raised:
        to_mnist(path)
    assert isinstance(raised.value, ValueError)
    assert len(str(raised.value)) > 60, "the message should also say what to do"


def test_pixel_limit_is_the_module_constant(monkeypatch, tmp_path):
    path = _saved(draw_digit(), tmp_path / "digit.png")
    monkeypatch.setattr(preprocess, "MAX_PIXELS", 1000)
    with pytest.raises(ScanError, match="expected at most 1,000"):
        load_image(path)


@pytest.mark.parametrize(
    "value",
    [pytest.param(42, id="int"), pytest.param(np.zeros((3, 40, 40)), id="3-channel-first")],
)
def test_unsupported_inputs_are_refused(value):
    with pytest.raises(ScanError, match="expected"):
        to_mnist(value)


def test_load_image_returns_a_decoded_upright_copy(tmp_path):
    path = _saved(draw_digit(), tmp_path / "digit.png")
    image = load_image(path)
    path.unlink()  # the image must not depend on the file any more
    assert image.size == (160, 200)
    assert np.asarray(image).shape == (200, 160)
