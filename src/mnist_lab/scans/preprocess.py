"""Turn a scan or photo of one handwritten digit into an MNIST-style 28x28 image.

MNIST was made from binary scans of handwriting: each digit was size-normalised to fit a
20x20 box with its aspect ratio kept (anti-aliasing gives the grey edges), then placed in a
28x28 frame so that its centre of mass sits at the centre, white ink on black. A photo
squeezed whole to 28x28 (the naive step) keeps paper, margins and shadows, and thin pen
strokes vanish, so a model trained on MNIST guesses. `to_mnist` repeats MNIST's recipe:

1. read any PIL image (any mode, EXIF orientation applied) as grey levels in [0, 1];
2. decide the polarity (dark ink on light paper, or light ink on a dark ground);
3. remove the paper and uneven lighting: a morphological closing a few stroke widths wide
   estimates the paper, and the image is divided by it;
4. find the ink with Otsu's threshold (faint parts of strokes joined by hysteresis), keep
   the digit's connected components and drop specks, shadows and lines at the edges;
5. crop to the ink, bring the stroke width to MNIST's (relative to the digit's size);
6. resize, anti-aliased and aspect kept, into the 20x20 box, and centre the box in the
   28x28 frame by the centre of mass.

`naive_preprocess` is the write-ups' step (grey, resize the whole image, divide by 255),
kept for comparison.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

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
# than any pen stroke, narrower than the changes in lighting.
BACKGROUND_WINDOW_FRACTION = 0.15
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
# Connected components smaller than this fraction of the largest one are specks.
SPECK_FRACTION = 0.15
# Components farther from the digit than this fraction of its size are other marks.
NEARBY_FRACTION = 0.35
# MNIST's stroke width is about this fraction of the digit's longer side (measured as twice
# the median ridge height of the distance transform); strokes are thickened up to it, and
# thinned when thicker than MAX_STROKE_FACTOR times it.
STROKE_RATIO = 0.12
MAX_STROKE_FACTOR = 1.3


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
    mask = _normalise_stroke(_crop(mask))
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
    ink = _remove_paper(gray, smooth, window)
    # A closing just wider than the strokes follows shadows and lighting more closely.
    strokes = ink > max(_otsu_threshold(ink[ink > MIN_INK_CONTRAST / 2]), MIN_INK_CONTRAST)
    if strokes.any():
        narrow = max(MIN_WINDOW, round(STROKE_WINDOW_FACTOR * _stroke_width(strokes)))
        if narrow < window:
            ink = _remove_paper(gray, smooth, narrow)
            window = narrow
    logger.debug("Background window %d px", window)
    return ink


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
    """The digit's pixels: ink by hysteresis thresholds, specks and stray marks dropped."""
    if ink.max() < MIN_INK_CONTRAST:
        raise ScanError(
            f"No ink found: the darkest mark is only {ink.max():.0%} darker than the paper "
            f"(at least {MIN_INK_CONTRAST:.0%} expected). Is the page blank, or the photo "
            "overexposed? Write darker, or photograph the digit closer in even light."
        )
    high = max(_otsu_threshold(ink[ink > MIN_INK_CONTRAST / 2]), MIN_INK_CONTRAST)
    low = max(HYSTERESIS_FRACTION * high, MIN_INK_CONTRAST / 2)
    # Hysteresis: faint parts of a stroke count when they join a clearly inked part.
    labels, count = ndimage.label(ink > low, structure=np.ones((3, 3)))
    strong = np.unique(labels[ink > high])
    labels[~np.isin(labels, strong[strong > 0])] = 0
    indices = np.arange(1, count + 1)
    masses = ndimage.sum_labels(ink, labels, index=indices)
    boxes = ndimage.find_objects(labels, max_label=count)
    components = [
        (mass * _edge_penalty(box, ink.shape), index, box)
        for mass, index, box in zip(masses, indices, boxes, strict=True)
        if box is not None
    ]
    components.sort(key=lambda component: component[0], reverse=True)
    best_score, best_index, best_box = components[0]
    extent = max(side.stop - side.start for side in best_box)
    if extent < MIN_DIGIT_FRACTION * max(ink.shape):
        raise ScanError(
            f"No ink found: the largest mark is only {extent / max(ink.shape):.1%} of the "
            f"image across, a speck or noise (a digit should be at least "
            f"{MIN_DIGIT_FRACTION:.0%}). Is the page blank? If the digit is tiny in the photo, "
            "crop the image closer around it."
        )
    margin = NEARBY_FRACTION * extent
    keep = [best_index]
    for score, index, box in components[1:]:
        if score < SPECK_FRACTION * best_score:
            break
        if _gap(best_box, box) <= margin and _edge_penalty(box, ink.shape) > SPAN_PENALTY:
            keep.append(index)
    logger.debug(
        "Kept %d of %d ink components (thresholds %.2f, %.2f)", len(keep), count, low, high
    )
    return np.isin(labels, keep)


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


def _gap(first: tuple[slice, slice], second: tuple[slice, slice]) -> int:
    """Pixels between two bounding boxes (0 or less when they overlap)."""
    return max(
        max(first[axis].start - second[axis].stop, second[axis].start - first[axis].stop)
        for axis in (0, 1)
    )


def _crop(mask: np.ndarray) -> np.ndarray:
    rows, cols = ndimage.find_objects(mask.astype(np.int32))[0]
    return mask[rows, cols]


def _stroke_width(mask: np.ndarray) -> float:
    """Twice the median height of the distance transform's ridge: the typical stroke width."""
    distance = ndimage.distance_transform_edt(np.pad(mask, 1))
    ridge = (distance > 0) & (distance >= ndimage.maximum_filter(distance, size=3))
    return 2.0 * float(np.median(distance[ridge]))


def _normalise_stroke(mask: np.ndarray) -> np.ndarray:
    """Thicken thin strokes (and thin very thick ones) to MNIST's width relative to size."""
    target = STROKE_RATIO * max(mask.shape)
    width = _stroke_width(mask)
    pad = max(1, round(target))
    padded = np.pad(mask, pad)
    if width < target:
        radius = (target - width) / 2
        padded = ndimage.distance_transform_edt(~padded) <= radius
    elif width > MAX_STROKE_FACTOR * target:
        radius = (width - MAX_STROKE_FACTOR * target) / 2
        thinned = ndimage.distance_transform_edt(padded) > radius
        if thinned.any():
            padded = thinned
    logger.debug("Stroke width %.1f px, target %.1f px", width, target)
    return _crop(padded)


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
