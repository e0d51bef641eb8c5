"""Step 5 of `preprocess.to_mnist`: bring a digit's strokes to MNIST's width without
changing what the digit shows.

MNIST's strokes are about `STROKE_RATIO` of the digit's size wide. `normalise_stroke`
thickens thinner strokes and thins much thicker ones, but never cuts a stroke, drops a
piece, or fills or opens a loop: the pieces (8-connected ink) and loops (enclosed paper)
are compared before and after (`_topology`), and a change that alters them is scaled back.
"""

from __future__ import annotations

import functools
import logging

import numpy as np
from scipy import ndimage

logger = logging.getLogger(__name__)

# MNIST's stroke width is about this fraction of the digit's longer side (measured as twice
# the median ridge height of the distance transform); strokes are thickened up to it, and
# thinned when thicker than MAX_STROKE_FACTOR times it.
STROKE_RATIO = 0.12
MAX_STROKE_FACTOR = 1.3
# Thickening leaves each loop at least this fraction of its inner radius open.
LOOP_KEEP = 0.5
# When a width change would change the digit's pieces or loops, it is scaled back by these
# factors in turn, then left out (the strokes as found).
SCALE_BACK = (0.75, 0.5, 0.25)


def crop(mask: np.ndarray) -> np.ndarray:
    """The mask cut to the box around its ink."""
    rows, cols = ndimage.find_objects(mask.astype(np.int32))[0]
    return mask[rows, cols]


def label_maxima(values: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """The largest of ``values`` under each label 1..``count`` (0.0 for a label not there)."""
    maxima = np.zeros(count + 1, dtype=np.float64)
    labelled = labels > 0
    np.maximum.at(maxima, labels[labelled], values[labelled])
    return maxima[1:]


def stroke_width(mask: np.ndarray) -> float:
    """Twice the median height of the distance transform's ridge: the typical stroke width.

    0.0 for an empty mask.
    """
    if not mask.any():
        return 0.0
    distance = ndimage.distance_transform_edt(np.pad(mask, 1))
    ridge = (distance > 0) & (distance >= ndimage.maximum_filter(distance, size=3))
    return 2.0 * float(np.median(distance[ridge]))


def normalise_stroke(mask: np.ndarray, *, loop_radius_fraction: float) -> np.ndarray:
    """Thicken thin strokes (and thin very thick ones) to MNIST's width relative to size.

    Neither change may alter the digit's pieces and loops where that changes what it shows:
    thinning must cut no stroke, drop no piece and open no loop (it leaves parts thinner
    than what it takes off as they are); thickening must fill or split no loop (it grows
    into each loop by at most LOOP_KEEP of its inner radius). A change that would all the
    same is scaled back (SCALE_BACK), or else left out. Thickening does what a broader pen
    would: it joins pieces a gap narrower than the growth apart (a broken line becomes
    whole, a loop left just open closes), and fills the paper it encloses where strokes
    nearly touch (holes narrower than a stroke of MNIST's width). Holes of inner radius below
    ``loop_radius_fraction`` of the digit's longer side are filled first: pinholes, not loops.
    """
    loop_radius = loop_radius_fraction * max(mask.shape)
    mask = _fill_narrow_holes(mask, loop_radius)
    target = STROKE_RATIO * max(mask.shape)
    width = stroke_width(mask)
    padded = np.pad(mask, max(1, round(target)))
    logger.debug("Stroke width %.1f px, target %.1f px", width, target)
    if width < target:
        radius = (target - width) / 2
        change = functools.partial(_thicken, padded, seal=target / 2)
    elif width > MAX_STROKE_FACTOR * target:
        radius = (width - MAX_STROKE_FACTOR * target) / 2
        change = functools.partial(_thin, padded, loop_radius=loop_radius)
    else:
        return crop(padded)
    for scale in (1.0, *SCALE_BACK):
        changed = change(scale * radius)
        if changed is not None:
            if scale < 1.0:
                logger.debug("Stroke width change scaled back to %.0f%%", 100 * scale)
            return crop(changed)
    logger.debug("Stroke width left as found: any change would alter the digit's topology")
    return crop(padded)


def _holes(mask: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
    """The background regions the ink encloses (4-connected): labels, count, inner radii.

    A hole's inner radius is the largest distance from a pixel of it to the ink.
    """
    labels, count = ndimage.label(ndimage.binary_fill_holes(mask) & ~mask)
    if count == 0:
        return labels, 0, np.zeros(0)
    distance = ndimage.distance_transform_edt(labels > 0)
    return labels, count, label_maxima(distance, labels, count)


def _topology(mask: np.ndarray, loop_radius: float) -> tuple[int, int]:
    """The ink's pieces (8-connected) and loops (holes of inner radius >= ``loop_radius``)."""
    _, pieces = ndimage.label(mask, structure=np.ones((3, 3)))
    _, _, radii = _holes(mask)
    return pieces, int(np.count_nonzero(radii >= loop_radius))


def _fill_narrow_holes(mask: np.ndarray, loop_radius: float) -> np.ndarray:
    """The mask with its holes of inner radius below ``loop_radius`` filled."""
    labels, count, radii = _holes(mask)
    if count == 0:
        return mask
    narrow = np.concatenate([[False], radii < loop_radius])
    return mask | narrow[labels]


def _thin(mask: np.ndarray, radius: float, *, loop_radius: float) -> np.ndarray | None:
    """Thick strokes eroded by ``radius`` on each side, thinner parts kept as they are.

    The parts narrower than twice ``radius`` (a waist, a quick joining stroke) would vanish
    in the erosion: they and the ink just around them, which joins them to the thinned
    strokes, are kept (and what the erosion leaves of a stroke's rough edge is not). None if
    the digit's pieces or loops change all the same.
    """
    core = ndimage.distance_transform_edt(mask) > radius
    narrow = mask & (ndimage.distance_transform_edt(~core) > radius)
    thinned = core | (mask & (ndimage.distance_transform_edt(~narrow) <= radius + 1))
    labels, _ = ndimage.label(thinned, structure=np.ones((3, 3)))
    pieces, _ = ndimage.label(mask, structure=np.ones((3, 3)))
    # Keep what holds a thinned stroke, and whole pieces too thin to hold one.
    thin_pieces = np.setdiff1d(np.unique(pieces[mask]), np.unique(pieces[core]))
    thinned = np.isin(labels, np.unique(labels[core])) & (labels > 0)
    thinned |= np.isin(pieces, thin_pieces)
    if not thinned.any() or _topology(thinned, loop_radius) != _topology(mask, loop_radius):
        return None
    return thinned


def _thicken(mask: np.ndarray, radius: float, *, seal: float) -> np.ndarray | None:
    """Strokes grown by ``radius``, but by at most LOOP_KEEP of each loop's inner radius into it.

    New holes of inner radius below ``seal`` (paper enclosed where strokes nearly touch) are
    filled. None if a loop would be filled or split in two.
    """
    outside = ndimage.distance_transform_edt(~mask)
    loops, count, inner = _holes(mask)
    reach = np.concatenate([[radius], np.minimum(radius, LOOP_KEEP * inner)])
    grown = outside <= reach[loops]
    holes, _, radii = _holes(grown)
    # Each loop must still be exactly one hole.
    pairs = np.unique(np.stack([loops[holes > 0], holes[holes > 0]]), axis=1)
    pairs = pairs[:, pairs[0] > 0]
    if not np.array_equal(np.bincount(pairs[0], minlength=count + 1)[1:], np.ones(count)):
        return None
    sealed = np.concatenate([[False], radii < seal])
    sealed[pairs[1]] = False
    return grown | sealed[holes]
