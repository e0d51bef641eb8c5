"""Make the kit's sample "scans": handwriting-like digits drawn on simulated paper and photos.

Every digit 0-9 is described below as pen strokes through a few control points in a unit box
(x to the right, y down), in two or three writing styles (a 7 with and without a bar, a 1 with
and without a flag, an open and a closed 4, ...). Each sample perturbs the control points,
slants, rotates and places the digit, draws it with a pen whose width varies along the stroke
(black felt tip, blue ballpoint or pencil), and puts it on paper with a tone, uneven light, a
shadow, noise and blur, saved as PNG or JPEG at sizes from 80 to 600 pixels.

Nothing comes from MNIST, a font or anyone's scans: the strokes are drawn here. The output
is deterministic (fixed seeds): running the script twice gives identical files.

`HARD_CASES` are digits drawn the way real photos defeat a preprocessing, kept out of the
kit's samples: strokes that do not touch in faint ink (a 5 whose top bar was lifted off, in
faint blue ballpoint on grey paper), a thick marker 8 with small loops and a narrow waist,
and pen lines broken by gaps (a 7 and a 1 whose pen skipped). `render_hard_case` also
returns the ink it drew, so that tests can compare the digit's shape (its pieces, its
loops) with what a preprocessing made of it; ``--hard-cases DIR`` writes them, with a
``labels.csv``, to look at or to try with ``mnist-lab check-images``.

Usage: ``python scripts/make_sample_images.py [--out DIR] [--hard-cases DIR]`` (default:
``sample_images/``).
"""

from __future__ import annotations

import argparse
import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SEED = 20251121
SAMPLES_PER_DIGIT = 5
SUPERSAMPLE = 4  # strokes are drawn at this multiple of the final size, then downsampled
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "sample_images"

Stroke = list[tuple[float, float]]

# Pen strokes per writing style; each stroke is a smooth curve through its points.
DIGIT_STYLES: dict[int, dict[str, list[Stroke]]] = {
    0: {
        "oval": [
            [(0.55, 0.03), (0.28, 0.12), (0.15, 0.45), (0.25, 0.85), (0.5, 0.97),
             (0.75, 0.85), (0.85, 0.5), (0.78, 0.15), (0.55, 0.03), (0.44, 0.09)],
        ],
        "narrow": [
            [(0.62, 0.04), (0.4, 0.15), (0.28, 0.5), (0.33, 0.86), (0.5, 0.98),
             (0.67, 0.82), (0.74, 0.45), (0.7, 0.13), (0.58, 0.02)],
        ],
    },
    1: {
        "plain": [[(0.52, 0.02), (0.5, 0.5), (0.47, 0.98)]],
        "flag": [
            [(0.3, 0.26), (0.43, 0.13), (0.56, 0.02)],
            [(0.56, 0.02), (0.53, 0.5), (0.5, 0.98)],
        ],
        "serif": [
            [(0.32, 0.22), (0.55, 0.02)],
            [(0.55, 0.02), (0.53, 0.5), (0.51, 0.96)],
            [(0.3, 0.97), (0.5, 0.96), (0.73, 0.97)],
        ],
    },
    2: {
        "curve": [
            [(0.18, 0.26), (0.3, 0.07), (0.55, 0.02), (0.78, 0.15), (0.75, 0.4),
             (0.5, 0.68), (0.15, 0.97)],
            [(0.15, 0.97), (0.5, 0.94), (0.88, 0.96)],
        ],
        "loop": [
            [(0.18, 0.24), (0.42, 0.03), (0.72, 0.1), (0.72, 0.38), (0.4, 0.74),
             (0.18, 0.95), (0.34, 0.94), (0.33, 0.82), (0.24, 0.9), (0.55, 0.95),
             (0.88, 0.92)],
        ],
    },
    3: {
        "round": [
            [(0.2, 0.13), (0.45, 0.02), (0.75, 0.12), (0.72, 0.35), (0.44, 0.47),
             (0.78, 0.6), (0.8, 0.85), (0.5, 0.98), (0.18, 0.87)],
        ],
        "flat-top": [
            [(0.2, 0.04), (0.8, 0.03)],
            [(0.8, 0.03), (0.45, 0.4)],
            [(0.45, 0.4), (0.75, 0.5), (0.82, 0.76), (0.55, 0.97), (0.2, 0.87)],
        ],
    },
    4: {
        "open": [
            [(0.42, 0.02), (0.15, 0.63)],
            [(0.15, 0.63), (0.88, 0.61)],
            [(0.68, 0.25), (0.67, 0.6), (0.66, 0.98)],
        ],
        "closed": [
            [(0.66, 0.02), (0.15, 0.66)],
            [(0.15, 0.66), (0.88, 0.64)],
            [(0.66, 0.02), (0.65, 0.5), (0.64, 0.98)],
        ],
    },
    5: {
        "flag": [
            [(0.31, 0.05), (0.26, 0.46)],
            [(0.26, 0.46), (0.55, 0.38), (0.8, 0.56), (0.78, 0.85), (0.5, 0.98),
             (0.18, 0.88)],
            [(0.31, 0.05), (0.8, 0.04)],
        ],
        "round-belly": [
            [(0.82, 0.03), (0.33, 0.05)],
            [(0.33, 0.05), (0.26, 0.44)],
            [(0.26, 0.44), (0.62, 0.4), (0.84, 0.64), (0.72, 0.91), (0.42, 0.98),
             (0.2, 0.85)],
        ],
    },
    6: {
        "loop": [
            [(0.72, 0.05), (0.45, 0.16), (0.26, 0.45), (0.22, 0.75), (0.4, 0.97),
             (0.7, 0.92), (0.78, 0.7), (0.6, 0.52), (0.35, 0.57), (0.24, 0.72)],
        ],
        "straight-stem": [
            [(0.66, 0.02), (0.36, 0.45), (0.25, 0.76), (0.45, 0.97), (0.72, 0.86),
             (0.72, 0.6), (0.5, 0.5), (0.3, 0.63)],
        ],
    },
    7: {
        "plain": [
            [(0.15, 0.05), (0.85, 0.05)],
            [(0.85, 0.05), (0.56, 0.5), (0.4, 0.98)],
        ],
        "barred": [
            [(0.15, 0.05), (0.85, 0.05)],
            [(0.85, 0.05), (0.56, 0.5), (0.4, 0.98)],
            [(0.33, 0.5), (0.76, 0.48)],
        ],
        "curved-top": [
            [(0.16, 0.12), (0.5, 0.04), (0.85, 0.06)],
            [(0.85, 0.06), (0.65, 0.35), (0.5, 0.7), (0.45, 0.98)],
        ],
    },
    8: {
        "one-stroke": [
            [(0.72, 0.15), (0.5, 0.02), (0.26, 0.15), (0.3, 0.35), (0.7, 0.6),
             (0.78, 0.85), (0.5, 0.98), (0.22, 0.85), (0.3, 0.6), (0.7, 0.35),
             (0.76, 0.15), (0.6, 0.05)],
        ],
        "two-loops": [
            [(0.5, 0.46), (0.28, 0.3), (0.33, 0.06), (0.6, 0.03), (0.72, 0.25),
             (0.5, 0.46)],
            [(0.5, 0.46), (0.22, 0.66), (0.3, 0.95), (0.68, 0.95), (0.78, 0.68),
             (0.5, 0.46)],
        ],
    },
    9: {
        "straight-stem": [
            [(0.75, 0.2), (0.5, 0.03), (0.25, 0.15), (0.25, 0.38), (0.5, 0.47),
             (0.75, 0.35), (0.75, 0.2)],
            [(0.75, 0.18), (0.73, 0.6), (0.7, 0.98)],
        ],
        "curved-stem": [
            [(0.76, 0.22), (0.5, 0.03), (0.24, 0.17), (0.27, 0.4), (0.52, 0.45),
             (0.76, 0.3), (0.76, 0.22)],
            [(0.76, 0.22), (0.73, 0.62), (0.56, 0.9), (0.3, 0.95)],
        ],
    },
}  # fmt: skip


@dataclass(frozen=True)
class Pen:
    """An ink: its colour, opacity, width range (fraction of the digit's height) and grain."""

    name: str
    colour: tuple[int, int, int]
    opacity: float
    width: tuple[float, float]
    grain: float


PENS = (
    Pen("black felt tip", (25, 25, 30), 0.95, (0.07, 0.12), 0.0),
    Pen("blue ballpoint", (35, 45, 150), 0.85, (0.035, 0.06), 0.0),
    Pen("pencil", (70, 70, 78), 0.7, (0.04, 0.07), 0.35),
    Pen("black ballpoint", (30, 30, 40), 0.9, (0.03, 0.05), 0.0),
)


@dataclass(frozen=True)
class Paper:
    name: str
    colour: tuple[int, int, int]


PAPERS = (
    Paper("white", (246, 246, 243)),
    Paper("cream", (238, 230, 212)),
    Paper("grey-lit white", (205, 207, 212)),
    Paper("recycled grey", (222, 220, 214)),
)

# (width, height, format): small crops and scans to phone-photo sizes.
FRAMES = (
    (80, 100, "PNG"),
    (96, 96, "PNG"),
    (120, 150, "PNG"),
    (140, 110, "PNG"),
    (160, 160, "JPEG"),
    (200, 260, "JPEG"),
    (240, 180, "JPEG"),
    (300, 300, "JPEG"),
    (360, 480, "JPEG"),
    (600, 450, "JPEG"),
)

# Sensor noise (standard deviation in grey levels): scanners are cleaner than phone cameras.
NOISE = {"PNG": (0.8, 2.0), "JPEG": (1.5, 5.0)}


@dataclass(frozen=True)
class SampleImage:
    file: str
    label: int
    notes: str
    data: bytes


@dataclass(frozen=True)
class HardCase:
    """A digit drawn the way real photos defeat a preprocessing (see `HARD_CASES`).

    ``gaps`` breaks the pen line into dashes and ``strength`` sets each stroke's ink
    (`draw_ink`); ``jitter`` is kept small so that every image keeps the shape described
    (the pieces that do not touch, the loops).
    """

    name: str
    digit: int
    strokes: list[Stroke]
    pen: Pen
    paper: Paper
    what: str
    gaps: tuple[float, float] | None = None
    strength: tuple[float, ...] | None = None
    jitter: float = 0.01


# A ballpoint running dry, pressed lightly: little darker than grey paper.
FAINT_BLUE = Pen("faint blue ballpoint", (70, 95, 185), 0.5, (0.03, 0.045), 0.0)
# A broad felt-tip marker: strokes over a quarter of the digit's height wide.
MARKER = Pen("thick felt-tip marker", (20, 20, 28), 0.95, (0.26, 0.3), 0.0)

# A 5 whose top bar was written after the pen lifted, not touching the stem.
LIFTED_BAR_5 = [
    [(0.38, 0.05), (0.6, 0.04), (0.84, 0.03)],
    [(0.3, 0.17), (0.26, 0.46)],
    [(0.26, 0.46), (0.55, 0.38), (0.8, 0.56), (0.78, 0.85), (0.5, 0.98), (0.18, 0.88)],
]

HARD_CASES = (
    HardCase(
        "5_lifted-bar",
        5,
        LIFTED_BAR_5,
        FAINT_BLUE,
        PAPERS[2],
        "the top bar written apart from the body, in faint ink, the body fainter still",
        strength=(1.0, 0.5, 0.5),
    ),
    HardCase(
        "5_light-bar",
        5,
        LIFTED_BAR_5,
        FAINT_BLUE,
        PAPERS[3],
        "the top bar written apart from the body and lightly, in faint ink",
        strength=(0.6, 1.0, 1.0),
    ),
    HardCase(
        "8_marker",
        8,
        [
            [(0.5, 0.41), (0.22, 0.3), (0.25, 0.08), (0.5, 0.02), (0.75, 0.08), (0.78, 0.3),
             (0.5, 0.41)],
            [(0.5, 0.54), (0.16, 0.64), (0.16, 0.9), (0.5, 0.98), (0.84, 0.9), (0.84, 0.64),
             (0.5, 0.54)],
        ],
        MARKER,
        PAPERS[0],
        "two small loops in broad strokes, joined by a narrow waist",
    ),
    HardCase(
        "7_broken",
        7,
        [[(0.15, 0.05), (0.85, 0.05)], [(0.85, 0.05), (0.56, 0.5), (0.4, 0.98)]],
        PENS[3],
        PAPERS[1],
        "a pen that skips: every stroke broken by short gaps",
        gaps=(2.5, 1.2),
    ),
    HardCase(
        "1_dotted",
        1,
        [[(0.3, 0.26), (0.42, 0.14), (0.52, 0.05)], [(0.56, 0.02), (0.53, 0.5), (0.5, 0.98)]],
        PENS[1],
        PAPERS[3],
        "a dotted line, no dot touching the next",
        gaps=(1.0, 1.0),
    ),
)  # fmt: skip
HARD_CASE_VARIANTS = 4
# Hard cases are drawn from a scan-sized crop to a phone photo.
HARD_FRAMES = ((120, 150, "PNG"), (240, 180, "JPEG"), (360, 480, "JPEG"), (600, 450, "JPEG"))


def catmull_rom(points: np.ndarray, samples_per_segment: int = 24) -> np.ndarray:
    """A smooth curve through ``points`` (n x 2), ends held by repeating the end points."""
    padded = np.vstack([points[:1], points, points[-1:]])
    t = np.linspace(0.0, 1.0, samples_per_segment, endpoint=False)[:, None]
    pieces = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1], padded[i], padded[i + 1], padded[i + 2]
        pieces.append(
            0.5
            * (
                2 * p1
                + (p2 - p0) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                + (3 * p1 - p0 - 3 * p2 + p3) * t**3
            )
        )
    pieces.append(points[-1:])
    return np.vstack(pieces)


def place_strokes(
    strokes: list[Stroke], rng: np.random.Generator, size: tuple[int, int], jitter: float = 0.022
) -> tuple[list[np.ndarray], float]:
    """Jitter, slant, rotate, scale and place the strokes in an image of ``size`` (w, h).

    ``jitter`` is the standard deviation of the control points' shifts (fraction of the box).
    """
    width, height = size
    digit_height = rng.uniform(0.45, 0.8) * min(width, height * 0.95)
    aspect = rng.uniform(0.65, 0.9)
    slant = rng.uniform(-0.25, 0.1)
    angle = math.radians(rng.uniform(-8, 8))
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    placed = []
    for stroke in strokes:
        points = np.array(stroke, dtype=np.float64)
        points = points + rng.normal(0.0, jitter, size=points.shape)
        points -= 0.5
        points[:, 0] = points[:, 0] * aspect - slant * points[:, 1]
        placed.append(points @ rotation.T * digit_height)
    everything = np.vstack(placed)
    low, high = everything.min(axis=0), everything.max(axis=0)
    margin = 0.06 * np.array([width, height])
    room_low = margin - low
    room_high = np.array([width, height]) - margin - high
    offset = rng.uniform(room_low, np.maximum(room_low, room_high))
    return [points + offset for points in placed], digit_height


def draw_ink(
    strokes: list[np.ndarray],
    pen: Pen,
    digit_height: float,
    size: tuple[int, int],
    rng,
    gaps: tuple[float, float] | None = None,
    strength: tuple[float, ...] | None = None,
) -> np.ndarray:
    """Ink coverage in [0, 1] (height x width): the strokes drawn by ``pen`` at SUPERSAMPLE.

    ``gaps`` (dash, gap), both in pen widths, breaks every stroke into dashes, as a pen that
    skips or a dotted line does; each stroke starts with a dash. ``strength`` is each
    stroke's ink, 1.0 full (a pen pressed lightly or running dry lays less; where strokes
    cross, the later one's shows).
    """
    canvas = Image.new("L", (size[0] * SUPERSAMPLE, size[1] * SUPERSAMPLE), 0)
    draw = ImageDraw.Draw(canvas)
    base = rng.uniform(*pen.width) * digit_height * SUPERSAMPLE
    for number, points in enumerate(strokes):
        fill = 255 if strength is None else round(255 * strength[number])
        curve = catmull_rom(points) * SUPERSAMPLE
        steps = np.linalg.norm(np.diff(curve, axis=0), axis=1)
        along = np.concatenate([[0.0], np.cumsum(steps)]) / max(steps.sum(), 1e-9)
        phase = rng.uniform(0, 2 * math.pi)
        # Pressure: the pen widens and narrows along the stroke and lifts at its ends.
        pressure = (1 + 0.2 * np.sin(2 * math.pi * 1.5 * along + phase)) * np.minimum(
            1.0, 0.65 + 2.5 * np.minimum(along, 1 - along)
        )
        dense = _resample(curve, spacing=max(base * 0.15, 0.5))
        radii = np.interp(np.linspace(0, 1, len(dense)), along, pressure) * base / 2
        if gaps is not None:
            dash, gap = gaps
            # Arc length from the stroke's start, in pen widths: the pen is down on dashes.
            travelled = np.arange(len(dense)) * max(base * 0.15, 0.5) / base
            down = travelled % (dash + gap) < dash
            dense, radii = dense[down], radii[down]
        for (x, y), radius in zip(dense, radii, strict=True):
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=fill)
    small = canvas.resize(size, Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


def _resample(curve: np.ndarray, spacing: float) -> np.ndarray:
    steps = np.linalg.norm(np.diff(curve, axis=0), axis=1)
    distance = np.concatenate([[0.0], np.cumsum(steps)])
    targets = np.arange(0.0, distance[-1] + spacing, spacing)
    return np.column_stack([np.interp(targets, distance, curve[:, axis]) for axis in (0, 1)])


def lighting(size: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """A multiplicative light field: a gradient across the page and, often, a soft shadow."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    xs /= width
    ys /= height
    angle = rng.uniform(0, 2 * math.pi)
    ramp = (xs - 0.5) * math.cos(angle) + (ys - 0.5) * math.sin(angle)
    strength = rng.uniform(0.05, 0.3)
    light = 1.0 - strength * (ramp + 0.5)
    description = f"light falling off by {strength:.0%}"
    if rng.random() < 0.5:
        # A shadow (a hand or phone) over one side: a soft edge along a line near the border.
        normal = rng.uniform(0, 2 * math.pi)
        edge = (
            (xs - 0.5) * math.cos(normal) + (ys - 0.5) * math.sin(normal) - rng.uniform(0.3, 0.45)
        )
        softness = rng.uniform(0.03, 0.12)
        depth = rng.uniform(0.15, 0.35)
        light *= 1.0 - depth / (1.0 + np.exp(-edge / softness))
        description += f", soft shadow {depth:.0%} deep"
    return light[..., None], description


def paper_marks(size: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Darkening (height x width, 0 = none) from a dotted-notebook grid and specks of dust."""
    width, height = size
    canvas = Image.new("L", size, 0)
    draw = ImageDraw.Draw(canvas)
    notes = []
    if rng.random() < 0.3:
        pitch = rng.uniform(0.06, 0.1) * max(size)
        radius = max(0.6, 0.004 * max(size))
        start = rng.uniform(0, pitch, size=2)
        for x in np.arange(start[0], width, pitch):
            for y in np.arange(start[1], height, pitch):
                draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=70)
        notes.append("dotted notebook paper")
    specks = int(rng.integers(0, 6))
    for _ in range(specks):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        radius = rng.uniform(0.4, 0.01 * max(size) + 0.5)
        draw.ellipse(
            (x - radius, y - radius, x + radius, y + radius), fill=int(rng.integers(60, 160))
        )
    if specks:
        notes.append(f"{specks} specks")
    return np.asarray(canvas, dtype=np.float32)[..., None] / 255.0, ", ".join(notes)


def render(digit: int, index: int) -> SampleImage:
    """One sample image of ``digit``; ``index`` picks the style, pen, paper and frame."""
    rng = np.random.default_rng([SEED, digit, index])
    style_name, strokes = list(DIGIT_STYLES[digit].items())[index % len(DIGIT_STYLES[digit])]
    pen = PENS[(digit + index) % len(PENS)]
    paper = PAPERS[(2 * digit + index) % len(PAPERS)]
    width, height, image_format = FRAMES[(3 * digit + index) % len(FRAMES)]
    if rng.random() < 0.3:
        width, height = height, width
    sample, _ = draw_sample(
        f"{digit}_{style_name}_{index + 1}",
        digit,
        f"{style_name} {digit}",
        strokes,
        pen=pen,
        paper=paper,
        size=(width, height),
        image_format=image_format,
        grey=bool(index % 2),
        rng=rng,
    )
    return sample


def draw_sample(
    stem: str,
    digit: int,
    title: str,
    strokes: list[Stroke],
    *,
    pen: Pen,
    paper: Paper,
    size: tuple[int, int],
    image_format: str,
    grey: bool,
    rng: np.random.Generator,
    jitter: float = 0.022,
    gaps: tuple[float, float] | None = None,
    strength: tuple[float, ...] | None = None,
) -> tuple[SampleImage, np.ndarray]:
    """The strokes written with ``pen`` on ``paper`` and photographed, and the ink drawn.

    Returns the image (named ``stem`` and its format's suffix) and the ink's coverage in
    [0, 1] (height x width), blur included, before paper, light and noise. ``grey`` saves a
    PNG in grey levels; ``jitter`` is `place_strokes`'s, ``gaps`` and ``strength`` `draw_ink`'s.
    """
    width, height = size
    placed, digit_height = place_strokes(strokes, rng, size, jitter)
    ink = draw_ink(placed, pen, digit_height, size, rng, gaps, strength)
    blur = rng.uniform(0.0, 0.9)
    if blur > 0.3:
        ink_image = Image.fromarray((ink * 255).astype(np.uint8)).filter(
            ImageFilter.GaussianBlur(blur)
        )
        ink = np.asarray(ink_image, dtype=np.float32) / 255.0
    drawn = ink.copy()
    if pen.grain:
        ink *= 1.0 - pen.grain * rng.random(ink.shape, dtype=np.float32)
    coverage = (pen.opacity * ink)[..., None]
    paper_rgb = np.array(paper.colour, dtype=np.float32) * rng.uniform(0.97, 1.03, size=3)
    marks, marks_notes = paper_marks(size, rng)
    pixels = (
        paper_rgb * (1 - marks) * (1 - coverage) + np.array(pen.colour, dtype=np.float32) * coverage
    )
    light, light_notes = lighting(size, rng)
    noise = rng.uniform(*NOISE[image_format])
    pixels = pixels * light + rng.normal(0.0, noise, size=pixels.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8))
    buffer = io.BytesIO()
    if image_format == "JPEG":
        quality = int(rng.integers(60, 90))
        image.save(buffer, format="JPEG", quality=quality)
        kind, suffix = f"phone-photo-like, JPEG quality {quality}", "jpg"
    else:
        if grey:
            image = image.convert("L")
        image.save(buffer, format="PNG", optimize=True)
        kind, suffix = f"scan-like crop, {image.mode} PNG", "png"
    notes = (
        f"{title}; {pen.name} on {paper.name} paper; {light_notes}; "
        f"{marks_notes + '; ' if marks_notes else ''}noise "
        f"{noise:.1f}; {width}x{height}; {kind}"
    )
    sample = SampleImage(file=f"{stem}.{suffix}", label=digit, notes=notes, data=buffer.getvalue())
    return sample, drawn


def make_samples() -> list[SampleImage]:
    return [render(digit, index) for digit in range(10) for index in range(SAMPLES_PER_DIGIT)]


def render_hard_case(case: HardCase, variant: int) -> tuple[SampleImage, np.ndarray]:
    """One image of a hard case and the ink drawn (`draw_sample`); ``variant`` picks the frame."""
    number = HARD_CASES.index(case)
    rng = np.random.default_rng([SEED, 100 + number, variant])
    width, height, image_format = HARD_FRAMES[variant % len(HARD_FRAMES)]
    return draw_sample(
        f"{case.name}_{variant + 1}",
        case.digit,
        f"{case.name.split('_', 1)[1]} {case.digit}: {case.what}",
        case.strokes,
        pen=case.pen,
        paper=case.paper,
        size=(width, height),
        image_format=image_format,
        grey=False,
        rng=rng,
        jitter=case.jitter,
        gaps=case.gaps,
        strength=case.strength,
    )


def make_hard_cases() -> list[SampleImage]:
    return [
        render_hard_case(case, variant)[0]
        for case in HARD_CASES
        for variant in range(HARD_CASE_VARIANTS)
    ]


def write_samples(out: Path, samples: list[SampleImage] | None = None) -> list[SampleImage]:
    """Write the images (default: the kit's samples) and ``labels.csv`` into ``out``.

    ``labels.csv`` has the columns file,label,source,notes.
    """
    out.mkdir(parents=True, exist_ok=True)
    samples = make_samples() if samples is None else samples
    for sample in samples:
        (out / sample.file).write_bytes(sample.data)
    with (out / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["file", "label", "source", "notes"])
        for sample in samples:
            writer.writerow(
                [sample.file, sample.label, "scripts/make_sample_images.py", sample.notes]
            )
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="folder to write to (default: %(default)s)"
    )
    parser.add_argument(
        "--hard-cases",
        type=Path,
        metavar="DIR",
        help="write the hard cases (not the samples) to DIR, with their labels.csv",
    )
    args = parser.parse_args(argv)
    out = args.hard_cases or args.out
    samples = write_samples(out, make_hard_cases() if args.hard_cases else None)
    total = sum(len(sample.data) for sample in samples)
    print(f"Wrote {len(samples)} images ({total / 1024:.0f} KiB) and labels.csv to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
