"""Turn a scan or photo of one handwritten digit into an MNIST-style 28x28 image.

MNIST was made from binary scans of handwriting: each digit was size-normalised to fit a
20x20 box with its aspect ratio kept (anti-aliasing gives the grey edges), then placed in a
28x28 frame so that its centre of mass sits at the centre, white ink on black. A photo
squeezed whole to 28x28 (the naive step) keeps paper, margins and shadows, and thin pen
strokes vanish, so a model trained on MNIST guesses. `to_mnist` repeats MNIST's recipe:

1. read any PIL image (any mode, EXIF orientation applied) as grey levels in [0, 1];
2. decide the polarity (dark ink on light paper, or light ink on a dark ground);
3. remove the paper and uneven lighting: a morphological closing a few stroke widths wide
   estimates the paper, and the image is divided by it (a broad marker's strokes, wider
   than the first closing, would come out hollow: the closing is widened for them);
4. find the ink with Otsu's threshold (faint parts of strokes joined by hysteresis), and
   keep every piece of the digit: its heaviest stroke, then, growing from it, the strokes
   near it that do not touch it (a lifted pen, even in fainter ink) and the pieces of a
   broken or dotted line; specks, shadows, paper edges and rulings are dropped;
5. crop to the ink, bring the stroke width (`strokes`) to MNIST's (relative to the digit's size)
   without cutting a stroke, dropping a piece, or filling or opening a loop (thin parts
   such as a narrow waist are not thinned further; a change that would alter the digit's
   pieces or loops all the same is scaled back); thickening, like a broader pen, may join
   pieces a small gap apart;
6. resize, anti-aliased and aspect kept, into the 20x20 box, and centre the box in the
   28x28 frame by the centre of mass.

`naive_preprocess` is the write-ups' step (grey, resize the whole image, divide by 255),
kept for comparison.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

from mnist_lab.scans.strokes import crop, label_maxima, normalise_stroke, stroke_width

logger = logging.getLogger(__name__)

ImageInput = str | os.PathLike | Image.Image | np.ndarray

# MNIST's geometry: the digit fits a BOX_SIZE square, centred in a FRAME_SIZE square, with its
# centre of mass at FRAME_CENTRE (row, column; MNIST's mean is (14.0, 14.0) in array indices).
BOX_SIZE = 20
FRAME_SIZE = 28
FRAME_CENTRE = (14.0, 14.0)

# Input limits: larger images are refused (decompression bombs), smaller ones hold no digit.
MAX_PIXELS = 50_000_000
MIN_SIDE = 8

# 1-bit images are blurred by this Gaussian sigma (pixels) to undo dithering.
BILEVEL_SIGMA = 1.0
# The border ring (this fraction of the shorter side) tells the ground's shade.
BORDER_FRACTION = 0.03
# Ink is found in a working copy whose longer side is at most WORK_SIZE pixels (larger images
# are shrunk) and at least MIN_WORK_SIZE (smaller ones are enlarged, for smooth outlines).
WORK_SIZE = 512
MIN_WORK_SIZE = 160
# Gaussian smoothing (sigma in working pixels) against sensor and JPEG noise: strong for the
# paper estimate, light for the ink itself (thin strokes must keep their contrast).
DENOISE_SIGMA = 1.0
INK_SIGMA = 0.5
# The paper is estimated by a closing whose window is this fraction of the longer side: wider
# than pen strokes, narrower than the changes in lighting. A broad marker close up can be
# wider: its strokes come out hollow. When the strokes measure at least HOLLOW_RATIO of the
# window, a window twice as wide is tried, and kept when the strokes then measure at least
# HOLLOW_GROWTH times as wide, or when the window is narrower than JUNCTION_WIDTHS strokes
# (where strokes meet, the ink is about that wide); up to MAX_WIDENINGS times.
BACKGROUND_WINDOW_FRACTION = 0.15
HOLLOW_RATIO = 0.3
HOLLOW_GROWTH = 1.5
JUNCTION_WIDTHS = 2.0
MAX_WIDENINGS = 3
# The closing's blocks are smoothed away by a Gaussian of this fraction of the window.
PAPER_SMOOTHING = 0.3
# The window then shrinks to STROKE_WINDOW_FACTOR stroke widths (at least MIN_WINDOW pixels).
STROKE_WINDOW_FACTOR = 4.0
MIN_WINDOW = 9
# Ink must be at least this much darker than the paper around it (fraction of the paper's
# brightness); below it a page counts as blank.
MIN_INK_CONTRAST = 0.12
# The digit's longer side must be at least this fraction of the image's; smaller marks are noise.
MIN_DIGIT_FRACTION = 0.04
# Hysteresis: pixels above Otsu's threshold seed the ink, which grows through pixels above this
# fraction of it (faint parts of a stroke stay joined to it).
HYSTERESIS_FRACTION = 0.5
# Components touching the image's edge (shadows, paper edges) count for EDGE_PENALTY of their ink;
# those also spanning SPAN_FRACTION of the frame (rulings, table edges) for SPAN_PENALTY.
EDGE_PENALTY = 0.3
SPAN_FRACTION = 0.9
SPAN_PENALTY = 0.05
# Connected components smaller (in pixels) than this fraction of the digit are specks, unless
# they are strokes (below) or pieces of a broken line (below).
SPECK_FRACTION = 0.15
# Components farther from the digit than this fraction of its size are other marks.
NEARBY_FRACTION = 0.35
# A stroke written apart (a 5's lifted bar, a 4 or 7 in two strokes) joins the digit when it
# is near and either not a speck or at least STROKE_FRACTION of the digit's size long, in ink
# at least FAINT_FRACTION as dark as the digit's (the 90th percentile of its first stroke's
# ink): a stroke pressed lightly, or a faint digit's body beside its one firm stroke.
STROKE_FRACTION = 0.25
FAINT_FRACTION = 0.4
# A piece of a broken or dotted line joins the digit when it is clearly inked, at least
# PIECE_LENGTH stroke widths long (a dash; dust and a notebook's dots are no longer than the
# pen is wide), and at most JOIN_WIDTHS stroke widths from the digit's ink.
PIECE_LENGTH = 1.3
JOIN_WIDTHS = 2.0
# Holes narrower than this fraction of the digit's longer side (one pixel of the 20x20 box
# across: inner radius half a pixel) are pinholes in the ink or slivers where strokes
# overlap, filled; wider ones are the digit's loops (`strokes.normalise_stroke`).
LOOP_RADIUS_FRACTION = 1 / (2 * BOX_SIZE)


class ScanError(ValueError):
    """A scanned image could not be read or holds no digit that can be found."""


def load_image(path: str | os.PathLike) -> Image.Image:
    """Open an image file, fully decoded and upright (EXIF orientation applied).

    Raises `ScanError` for a missing or empty file, a file that is not an image, a truncated
    image, an image over `MAX_PIXELS` pixels, or one smaller than `MIN_SIDE` pixels a side.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise ScanError(
            f"No file at {path}. Expected a scan or photo of a handwritten digit (PNG, JPEG, "
            "...). Check the file name and the folder you run from."
        )
    if not path.is_file():
        raise ScanError(f"{path} is a directory; expected an image file. Pass the file's path.")
    if path.stat().st_size == 0:
        raise ScanError(
            f"{path} is empty (0 bytes); expected an image. The copy or download may have "
            "failed: save the image again."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                _check_size(opened, source=str(path))
                opened.load()
                image = ImageOps.exif_transpose(opened)
                if image is opened:
                    image = opened.copy()
    except UnidentifiedImageError as error:
        raise ScanError(
            f"{path} is not an image Pillow can read; expected a PNG, JPEG, BMP, TIFF or GIF "
            "file. Check that the file really is a picture (not a PDF, HEIC or text file) and "
            "re-export it as PNG or JPEG."
        ) from error
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ScanError(
            f"{path} claims too many pixels for a scan of one digit ({error}). Expected at "
            f"most {MAX_PIXELS:,} pixels: crop or scale the image down."
        ) from error
    except ScanError:
        raise
    except (OSError, SyntaxError, ValueError) as error:
        raise ScanError(
            f"Could not decode {path} ({type(error).__name__}: {error}). The file is probably "
            "truncated or corrupt (an interrupted copy or download); save or export it again."
        ) from error
    return image


def to_mnist(image_or_path: ImageInput) -> np.ndarray:
    """An MNIST-style view of one handwritten digit: float32, shape (28, 28), values in [0, 1].

    Accepts a path, a PIL image or a 2-D array, dark ink on light paper or light ink on dark.
    Raises `ScanError` when the image cannot be read or no ink is found.
    """
    gray = _grayscale(_as_image(image_or_path))
    ink = _ink_strength(gray)
    mask = _digit_mask(ink)
    mask = normalise_stroke(crop(mask), loop_radius_fraction=LOOP_RADIUS_FRACTION)
    return _centre_in_frame(_fit_box(mask))


def prepare_for_model(image_or_path: ImageInput) -> np.ndarray:
    """`to_mnist` shaped for ``model.predict``: float32, shape (1, 28, 28, 1)."""
    return to_mnist(image_or_path).reshape(1, FRAME_SIZE, FRAME_SIZE, 1)


def naive_preprocess(image_or_path: ImageInput, *, invert: bool = False) -> np.ndarray:
    """The write-ups' step: grey, squeeze the whole image to 28x28, divide by 255.

    With ``invert=True`` the result is ``1 - x`` (the write-ups' ``255 - x``). Returns float32
    of shape (1, 28, 28, 1). Kept to compare against `prepare_for_model`.
    """
    image = _as_image(image_or_path).convert("L").resize((FRAME_SIZE, FRAME_SIZE))
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    if invert:
        pixels = 1.0 - pixels
    return pixels.reshape(1, FRAME_SIZE, FRAME_SIZE, 1)


def _check_size(image: Image.Image, *, source: str) -> None:
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ScanError(
            f"{source} is {width}x{height} = {width * height:,} pixels; expected at most "
            f"{MAX_PIXELS:,} for a scan of one digit (larger files can exhaust memory). Crop "
            "or scale the image down."
        )
    if min(width, height) < MIN_SIDE:
        raise ScanError(
            f"{source} is only {width}x{height} pixels; expected at least {MIN_SIDE}x{MIN_SIDE}. "
            "Scan or photograph the digit at a higher resolution."
        )


def _as_image(image_or_path: ImageInput) -> Image.Image:
    if isinstance(image_or_path, Image.Image):
        _check_size(image_or_path, source="The image")
        try:
            return ImageOps.exif_transpose(image_or_path)
        except OSError as error:
            raise ScanError(
                f"Could not decode the image ({error}); it is probably truncated or corrupt. "
                "Save or export it again."
            ) from error
    if isinstance(image_or_path, np.ndarray):
        array = image_or_path
        if array.ndim == 3 and array.shape[-1] == 1:
            array = array[..., 0]
        if array.ndim != 2:
            raise ScanError(
                f"Got an array of shape {array.shape}; expected a 2-D grey image (height, "
                "width). Pass a PIL image for colour pictures."
            )
        if array.dtype != np.uint8:
            array = array.astype(np.float32)
        image = Image.fromarray(array)
        _check_size(image, source="The array")
        return image
    if isinstance(image_or_path, (str, os.PathLike)):
        return load_image(image_or_path)
    raise ScanError(
        f"Got a {type(image_or_path).__name__}; expected a file path, a PIL image or a "
        "2-D NumPy array."
    )


def _grayscale(image: Image.Image) -> np.ndarray:
    """Grey levels in [0, 1] (0 black), transparency composited on white paper."""
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        pixels = np.asarray(image, dtype=np.float64)
        top = pixels.max() if pixels.size else 1.0
        if image.mode.startswith("I;16") or 255 < top <= 65535:
            scale = 65535.0
        elif top <= 1.0 and image.mode == "F":
            scale = 1.0
        else:
            scale = max(255.0, float(top))
        return np.clip(pixels / scale, 0.0, 1.0).astype(np.float32)
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, rgba)
    if image.mode == "1":
        # Bilevel scans are often dithered: a blur turns the dot patterns back into grey.
        pixels = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
        return ndimage.gaussian_filter(pixels, BILEVEL_SIGMA)
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def _ink_strength(gray: np.ndarray) -> np.ndarray:
    """How strongly each pixel is ink, in [0, 1], at the working size, paper and light removed."""
    gray = _working_size(gray)
    smooth = ndimage.gaussian_filter(gray, DENOISE_SIGMA)
    window = max(MIN_WINDOW, round(BACKGROUND_WINDOW_FRACTION * max(gray.shape)))
    if not _ink_is_dark(smooth):
        # Light ink on a dark ground (MNIST's own polarity): work on the negative.
        gray, smooth = 1.0 - gray, 1.0 - smooth
        logger.debug("Light ink on a dark ground: inverted")
    ink, window, width = _ink_not_hollow(gray, smooth, window)
    # A closing just wider than the strokes follows shadows and lighting more closely.
    narrow = max(MIN_WINDOW, round(STROKE_WINDOW_FACTOR * width))
    if width > 0 and narrow < window:
        ink = _remove_paper(gray, smooth, narrow)
        window = narrow
    logger.debug("Background window %d px", window)
    return ink


def _ink_not_hollow(
    gray: np.ndarray, smooth: np.ndarray, window: int
) -> tuple[np.ndarray, int, float]:
    """The ink with the paper estimated by a closing wide enough for the strokes.

    Ink wider than the closing comes out hollow: a whole stroke, which then measures as two
    thin ones, or where strokes meet. While the strokes measure close to the window, a
    closing twice as wide tells: strokes that then measure much wider were hollow, and
    strokes too wide for the window where they meet are. Returns the ink, the window and
    the strokes' width.
    """
    ink = _remove_paper(gray, smooth, window)
    width = stroke_width(_main_strokes(ink))
    for _ in range(MAX_WIDENINGS):
        if width < HOLLOW_RATIO * window or window >= max(gray.shape):
            break
        wider = min(2 * window, max(gray.shape))
        wide_ink = _remove_paper(gray, smooth, wider)
        wide_width = stroke_width(_main_strokes(wide_ink))
        if wide_width < HOLLOW_GROWTH * width and JUNCTION_WIDTHS * width <= window:
            break
        ink, window, width = wide_ink, wider, wide_width
        logger.debug("Strokes were hollow: window widened to %d px", window)
    return ink, window, width


def _main_strokes(ink: np.ndarray) -> np.ndarray:
    """Ink above Otsu's threshold in components not smaller than SPECK_FRACTION of the largest.

    Specks, a notebook's dots and noise are left out: they would make the strokes look thin.
    """
    strokes = ink > max(_otsu_threshold(ink[ink > MIN_INK_CONTRAST / 2]), MIN_INK_CONTRAST)
    labels, count = ndimage.label(strokes, structure=np.ones((3, 3)))
    if count < 2:
        return strokes
    areas = np.bincount(labels.ravel())[1:]
    keep = np.flatnonzero(areas >= SPECK_FRACTION * areas.max()) + 1
    return np.isin(labels, keep)


def _ink_is_dark(smooth: np.ndarray) -> bool:
    """Whether the ink is darker than the ground (scans, photos) or lighter (MNIST, chalk).

    Light ink needs a ground darker than the middle grey level both over most of the image
    and nearly all round its border: a shadow over half a page is dark, but part of the
    border is still bright paper.
    """
    low, high = np.percentile(smooth, [1, 99])
    middle = (low + high) / 2
    ring = max(1, round(BORDER_FRACTION * min(smooth.shape)))
    border = np.concatenate(
        [
            smooth[:ring].ravel(),
            smooth[-ring:].ravel(),
            smooth[:, :ring].ravel(),
            smooth[:, -ring:].ravel(),
        ]
    )
    dark_ground = np.median(smooth) < middle and np.percentile(border, 90) < middle
    return not dark_ground


def _working_size(gray: np.ndarray) -> np.ndarray:
    """Large images shrunk (area-averaged) to WORK_SIZE, small ones enlarged to MIN_WORK_SIZE."""
    longer = max(gray.shape)
    if longer > WORK_SIZE:
        scale, resample = WORK_SIZE / longer, Image.Resampling.BOX
    elif longer < MIN_WORK_SIZE:
        scale, resample = MIN_WORK_SIZE / longer, Image.Resampling.BICUBIC
    else:
        return gray
    height, width = (max(1, round(side * scale)) for side in gray.shape)
    resized = Image.fromarray(gray).resize((width, height), resample)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def _remove_paper(gray: np.ndarray, smooth: np.ndarray, window: int) -> np.ndarray:
    """Darkness relative to the paper around, the paper estimated by a closing of ``window``."""
    closed = ndimage.grey_closing(smooth, size=(window, window))
    # Smoothing removes the closing's blocks; taking the lower of the two keeps shadow edges
    # sharp, so that no band of false ink appears along them.
    paper = np.minimum(ndimage.gaussian_filter(closed, PAPER_SMOOTHING * window), closed)
    paper = np.maximum(paper, smooth)
    ink = (paper - ndimage.gaussian_filter(gray, INK_SIGMA)) / np.maximum(paper, 0.05)
    return np.clip(ink, 0.0, 1.0)


def _otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    counts, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(counts)
    weight_high = weight_low[-1] - weight_low
    mass_low = np.cumsum(counts * centres)
    mean_low = mass_low / np.maximum(weight_low, 1)
    mean_high = (mass_low[-1] - mass_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(edges[int(np.argmax(between)) + 1])


def _digit_mask(ink: np.ndarray) -> np.ndarray:
    """The digit's pixels: ink by hysteresis thresholds, every piece of the digit kept.

    The digit grows from its heaviest clearly inked component (edges count less) by the
    components that belong to it (`_belonging`), one at a time and heaviest first: the
    pieces of its line first, so that a broken or dotted line is followed piece by piece,
    then the strokes apart from it, so that a speck is judged against the whole digit.
    Specks, stray marks and lines across the frame are left out.
    """
    if ink.max() < MIN_INK_CONTRAST:
        raise ScanError(
            f"No ink found: the darkest mark is only {ink.max():.0%} darker than the paper "
            f"(at least {MIN_INK_CONTRAST:.0%} expected). Is the page blank, or the photo "
            "overexposed? Write darker, or photograph the digit closer in even light."
        )
    high = max(_otsu_threshold(ink[ink > MIN_INK_CONTRAST / 2]), MIN_INK_CONTRAST)
    low = max(HYSTERESIS_FRACTION * high, MIN_INK_CONTRAST / 2)
    parts = _Components.find(ink, low=low, high=high)
    # Hysteresis: the first stroke is clearly inked somewhere.
    clear = parts.strong if parts.strong.any() else np.ones_like(parts.strong)
    best = int(np.argmax(np.where(clear, parts.scores, -1.0)))
    top, left, bottom, right = parts.boxes[best]
    first = parts.labels[top:bottom, left:right] == best + 1
    pen = stroke_width(first)
    faint = FAINT_FRACTION * float(np.percentile(ink[top:bottom, left:right][first], 90))
    kept = np.zeros(len(parts.scores), dtype=bool)
    kept[best] = True
    while True:
        pieces, apart = _belonging(parts, kept, stroke_width=pen, faint=faint)
        # The line is followed first, then the strokes apart from it are judged against it.
        joining = ~kept & (pieces if (pieces & ~kept).any() else apart)
        if not joining.any():
            break
        kept[np.argmax(np.where(joining, parts.scores, -np.inf))] = True
    top, left, bottom, right = _box_around(parts.boxes[kept])
    extent = max(bottom - top, right - left)
    if extent < MIN_DIGIT_FRACTION * max(ink.shape):
        raise ScanError(
            f"No ink found: the largest mark is only {extent / max(ink.shape):.1%} of the "
            f"image across, a speck or noise (a digit should be at least "
            f"{MIN_DIGIT_FRACTION:.0%}). Is the page blank? If the digit is tiny in the photo, "
            "crop the image closer around it."
        )
    logger.debug(
        "Kept %d of %d ink components (thresholds %.2f, %.2f; stroke width %.1f px)",
        int(kept.sum()),
        len(kept),
        low,
        high,
        pen,
    )
    return np.concatenate([[False], kept])[parts.labels]


@dataclass(frozen=True)
class _Components:
    """The ink's connected components (8-connected), entry i for label i + 1 in ``labels``.

    ``boxes`` rows are (top, left, bottom, right), bottom and right exclusive; ``scores``
    the ink's mass and ``sizes`` the pixels, both less at the image's edge
    (`_edge_penalty`); ``peaks`` the darkest ink; ``strong`` whether that is above Otsu's
    threshold; ``inside`` whether clear of the image's edge; ``spans`` whether a line
    across the frame (a ruling, a table's edge).
    """

    labels: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    sizes: np.ndarray
    peaks: np.ndarray
    strong: np.ndarray
    inside: np.ndarray
    spans: np.ndarray

    @classmethod
    def find(cls, ink: np.ndarray, *, low: float, high: float) -> _Components:
        """The components of the ink above ``low``; strong ones reach above ``high``."""
        labels, count = ndimage.label(ink > low, structure=np.ones((3, 3)))
        indices = np.arange(1, count + 1)
        slices = ndimage.find_objects(labels, max_label=count)
        penalties = np.array([_edge_penalty(box, ink.shape) for box in slices])
        peaks = label_maxima(ink, labels, count)
        return cls(
            labels=labels,
            boxes=np.array(
                [(rows.start, cols.start, rows.stop, cols.stop) for rows, cols in slices]
            ).reshape(-1, 4),
            scores=ndimage.sum_labels(ink, labels, index=indices) * penalties,
            sizes=np.bincount(labels.ravel(), minlength=count + 1)[1:] * penalties,
            peaks=peaks,
            strong=peaks > high,
            inside=penalties == 1.0,
            spans=penalties == SPAN_PENALTY,
        )


def _belonging(
    parts: _Components, kept: np.ndarray, *, stroke_width: float, faint: float
) -> tuple[np.ndarray, np.ndarray]:
    """Which components belong to a digit made of the ``kept`` ones: (pieces, apart).

    Pieces of its line: the clearly inked components within JOIN_WIDTHS stroke widths of
    its ink, at least PIECE_LENGTH stroke widths long and clear of the image's edge (a
    broken or dotted line). Apart: near the digit (within NEARBY_FRACTION of its size), in
    ink not fainter than ``faint``, the components that are not specks beside it (however
    dark they are) and the strokes at least STROKE_FRACTION of its size long, clear of the
    image's edge. Lines across the frame never belong.
    """
    top, left, bottom, right = _box_around(parts.boxes[kept])
    extent = max(bottom - top, right - left)
    others_top, others_left, others_bottom, others_right = parts.boxes.T
    gaps = np.maximum.reduce(
        [top - others_bottom, others_top - bottom, left - others_right, others_left - right]
    )
    lengths = np.maximum(others_bottom - others_top, others_right - others_left)
    near = (gaps <= NEARBY_FRACTION * extent) & (parts.peaks >= faint)
    large = parts.sizes >= SPECK_FRACTION * parts.sizes[kept].sum()
    stroke = parts.inside & (lengths >= STROKE_FRACTION * extent)
    reach = JOIN_WIDTHS * stroke_width
    piece = parts.strong & parts.inside & (lengths >= PIECE_LENGTH * stroke_width)
    piece &= gaps <= reach
    if piece.any():
        piece &= _distances(parts, kept, reach) <= reach
    return ~parts.spans & piece, ~parts.spans & near & (large | stroke)


def _box_around(boxes: np.ndarray) -> tuple[int, int, int, int]:
    """The box (top, left, bottom, right) around boxes given as rows of those."""
    return (
        int(boxes[:, 0].min()),
        int(boxes[:, 1].min()),
        int(boxes[:, 2].max()),
        int(boxes[:, 3].max()),
    )


def _distances(parts: _Components, kept: np.ndarray, reach: float) -> np.ndarray:
    """Each component's distance (pixels) to the ``kept`` ones' ink; ``inf`` beyond ``reach``."""
    top, left, bottom, right = _box_around(parts.boxes[kept])
    margin = int(np.ceil(reach)) + 1
    height, width = parts.labels.shape
    window = (
        slice(max(0, top - margin), min(height, bottom + margin)),
        slice(max(0, left - margin), min(width, right + margin)),
    )
    labels = parts.labels[window]
    digit = np.concatenate([[False], kept])[labels]
    distance = ndimage.distance_transform_edt(~digit)
    count = len(kept)
    nearest = ndimage.minimum(distance, labels, index=np.arange(1, count + 1))
    present = np.bincount(labels.ravel(), minlength=count + 1)[1:] > 0
    return np.where(present & (nearest <= reach), nearest, np.inf)


def _edge_penalty(box: tuple[slice, slice], shape: tuple[int, ...]) -> float:
    """How much a component's score counts: less at the edge, least for lines across the frame."""
    rows, cols = box
    height, width = shape
    if rows.start > 0 and cols.start > 0 and rows.stop < height and cols.stop < width:
        return 1.0
    spans = rows.stop - rows.start > SPAN_FRACTION * height or (
        cols.stop - cols.start > SPAN_FRACTION * width
    )
    return SPAN_PENALTY if spans else EDGE_PENALTY


def _fit_box(mask: np.ndarray) -> np.ndarray:
    """Anti-aliased resize into BOX_SIZE x BOX_SIZE, aspect ratio kept."""
    height, width = mask.shape
    scale = BOX_SIZE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    image = Image.fromarray(mask.astype(np.float32))
    return np.asarray(image.resize(size, Image.Resampling.BOX), dtype=np.float32)


def _centre_in_frame(box: np.ndarray) -> np.ndarray:
    """Place the box in the frame with its centre of mass at FRAME_CENTRE, ink kept inside."""
    height, width = box.shape
    com_row, com_col = ndimage.center_of_mass(box)
    top = int(np.clip(round(FRAME_CENTRE[0] - com_row), 0, FRAME_SIZE - height))
    left = int(np.clip(round(FRAME_CENTRE[1] - com_col), 0, FRAME_SIZE - width))
    frame = np.zeros((FRAME_SIZE, FRAME_SIZE), dtype=np.float32)
    frame[top : top + height, left : left + width] = box
    return np.clip(frame, 0.0, 1.0)
