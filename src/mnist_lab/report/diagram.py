"""The network diagram: one coloured box per layer, top to bottom, drawn with matplotlib alone.

Also home to the two figure primitives every report figure shares (`new_figure`,
`save_figure`): figures are plain `matplotlib.figure.Figure` objects on an Agg canvas, never
pyplot ones, so drawing a report touches no global pyplot state and opens no window.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

from mnist_lab.report.content import LayerInfo
from mnist_lab.report.layers import format_shape, total_params

logger = logging.getLogger(__name__)

DPI = 110
CAPTION_HEIGHT_IN = 0.32  # the strip at the bottom of every figure that holds the caption
# Student text (names, file names) must be drawn literally: "$" must not start mathtext.
# Text reads this setting when it is created, so wrap the creation of text, not the saving.
PLAIN_TEXT = {"text.parse_math": False}

# Layer kinds -> (fill, edge) colours; the first matching rule wins.
CATEGORY_COLOURS: dict[str, tuple[str, str]] = {
    "input": ("#E5E8E8", "#707B7C"),
    "conv": ("#AED6F1", "#2471A3"),
    "pool": ("#A9DFBF", "#1E8449"),
    "normalisation": ("#F9E79F", "#B7950B"),
    "dropout": ("#D7BDE2", "#7D3C98"),
    "flatten": ("#A3E4D7", "#148F77"),
    "activation": ("#F5B7B1", "#B03A2E"),
    "dense": ("#F8C471", "#CA6F1E"),
    "other": ("#EAEDED", "#566573"),
}
_ACTIVATION_KINDS = {"Activation", "ReLU", "Softmax", "LeakyReLU", "ELU", "PReLU"}

DIAGRAM_WIDTH_IN = 7.6
LEGEND_COLUMNS = 5
BOX_HEIGHT_IN = 0.6
BOX_GAP_IN = 0.24
MAX_TEXT_CHARS = 44


def new_figure(width_in: float, height_in: float, *, constrained: bool = True) -> Figure:
    """A white figure on an Agg canvas; with `constrained` layout, its axes keep clear of the
    caption strip at the bottom (without it, the caller places everything itself)."""
    figure = Figure(
        figsize=(width_in, height_in), dpi=DPI, layout="constrained" if constrained else None
    )
    FigureCanvasAgg(figure)
    figure.set_facecolor("white")
    if constrained:
        strip = min(CAPTION_HEIGHT_IN / height_in, 0.2)
        figure.get_layout_engine().set(rect=(0, strip, 1, 1 - strip))
    return figure


def save_figure(figure: Figure, path: Path | str, *, caption: str) -> Path:
    """Write `caption` along the figure's bottom edge, save it as a PNG and release it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    height_in = figure.get_figheight()
    text = figure.text(
        0.012,
        0.35 * CAPTION_HEIGHT_IN / height_in,
        caption,
        fontsize=CAPTION_SIZES[0],
        color="#444444",
        ha="left",
        va="bottom",
        parse_math=False,
    )
    _fit_caption(figure, text)
    figure.savefig(path, dpi=DPI, facecolor="white", format="png")
    figure.clear()
    logger.debug("Wrote figure %s", path)
    return path


CAPTION_SIZES = (9, 8, 7, 6)


def _fit_caption(figure: Figure, text) -> None:
    """Shrink the caption ``text`` (a matplotlib Text) to the largest of `CAPTION_SIZES` at
    which it fits the figure's width, measured as drawn; at the smallest, cut it with an
    ellipsis: a very long name must not run off the figure."""
    if not hasattr(figure.canvas, "get_renderer"):  # a bare Figure: draw with Agg, as saved
        FigureCanvasAgg(figure)
    renderer = figure.canvas.get_renderer()
    room = figure.bbox.width * 0.97
    for size in CAPTION_SIZES:
        text.set_fontsize(size)
        if text.get_window_extent(renderer).width <= room:
            return
    full = text.get_text()
    low, high = 1, len(full)
    while low < high:  # the longest start of the caption that fits, with its ellipsis
        middle = (low + high + 1) // 2
        text.set_text(full[:middle] + "\u2026")
        if text.get_window_extent(renderer).width <= room:
            low = middle
        else:
            high = middle - 1
    text.set_text(full[:low] + "\u2026")


def layer_category(kind: str) -> str:
    """The colour group of a layer class name, e.g. "Conv2D" -> "conv"."""
    if kind == "InputLayer":
        return "input"
    if kind in _ACTIVATION_KINDS:
        return "activation"
    rules = (
        ("Conv", "conv"),
        ("Pool", "pool"),
        ("Normalization", "normalisation"),
        ("Rescaling", "normalisation"),
        ("Dropout", "dropout"),
        ("Flatten", "flatten"),
        ("Reshape", "flatten"),
        ("Dense", "dense"),
    )
    return next((category for part, category in rules if part in kind), "other")


def draw_model_diagram(
    layers: Sequence[LayerInfo], path: Path | str, *, title: str, caption: str
) -> Path:
    """Draw `layers` as a column of coloured boxes joined by arrows and save it as a PNG.

    Each box shows the layer class, its detail (filters, units, rate ...), its output shape
    without the batch axis and its parameter count; below the column stand the total
    parameter count and a colour key. The figure grows with the number of layers.
    """
    if not layers:
        raise ValueError("Cannot draw a model diagram with no layers; describe_model(model) first.")
    categories = list(dict.fromkeys(layer_category(layer.kind) for layer in layers))
    legend_rows = -(-len(categories) // LEGEND_COLUMNS)
    pitch = BOX_HEIGHT_IN + BOX_GAP_IN
    column_in = len(layers) * pitch - BOX_GAP_IN
    title_in, footer_in = 0.65, 0.55 + 0.3 * legend_rows
    height_in = title_in + column_in + footer_in + CAPTION_HEIGHT_IN
    figure = new_figure(DIAGRAM_WIDTH_IN, height_in, constrained=False)
    # One axes over the whole figure whose data units are inches: boxes and fonts keep their
    # size and spacing whatever the number of layers.
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_axis_off()
    axes.set_xlim(0, DIAGRAM_WIDTH_IN)
    axes.set_ylim(0, height_in)
    centre = DIAGRAM_WIDTH_IN / 2
    with mpl.rc_context(PLAIN_TEXT):
        axes.text(
            centre,
            height_in - title_in / 2,
            title,
            fontsize=14,
            fontweight="bold",
            ha="center",
            va="center",
        )
        column_top = height_in - title_in
        for index, layer in enumerate(layers):
            top = column_top - index * pitch
            _draw_box(axes, layer, top)
            if index + 1 < len(layers):
                axes.add_patch(
                    FancyArrowPatch(
                        (centre, top - BOX_HEIGHT_IN),
                        (centre, top - pitch),
                        arrowstyle="-|>",
                        mutation_scale=12,
                        color="#555555",
                        linewidth=1.2,
                        shrinkA=0,
                        shrinkB=0,
                    )
                )
        footer_top = column_top - column_in
        axes.text(
            centre,
            footer_top - 0.3,
            f"Total parameters: {total_params(layers):,}",
            ha="center",
            va="center",
            fontsize=11.5,
            fontweight="bold",
        )
        handles = [
            Patch(facecolor=CATEGORY_COLOURS[c][0], edgecolor=CATEGORY_COLOURS[c][1], label=c)
            for c in categories
        ]
        axes.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(centre, footer_top - 0.5),
            bbox_transform=axes.transData,
            ncol=min(len(handles), LEGEND_COLUMNS),
            fontsize=9,
            frameon=False,
            borderaxespad=0,
            handlelength=1.6,
            columnspacing=1.4,
        )
    return save_figure(figure, path, caption=caption)


def _draw_box(axes, layer: LayerInfo, top: float) -> None:
    fill, edge = CATEGORY_COLOURS[layer_category(layer.kind)]
    bottom = top - BOX_HEIGHT_IN
    left, right = 0.5, DIAGRAM_WIDTH_IN - 0.5
    axes.add_patch(
        FancyBboxPatch(
            (left, bottom),
            right - left,
            BOX_HEIGHT_IN,
            boxstyle="round,pad=0,rounding_size=0.08",
            facecolor=fill,
            edgecolor=edge,
            linewidth=1.4,
        )
    )
    upper, lower = top - 0.19, bottom + 0.18
    axes.text(
        left + 0.15, upper, _shorten(layer.kind, 26), fontsize=10.5, fontweight="bold", va="center"
    )
    axes.text(
        left + 0.15,
        lower,
        _shorten(layer.detail or layer.name, MAX_TEXT_CHARS),
        fontsize=9.5,
        va="center",
        color="#222222",
    )
    axes.text(
        right - 0.15,
        upper,
        f"output {format_shape(layer.output_shape)}",
        fontsize=9.5,
        ha="right",
        va="center",
        family="monospace",
    )
    axes.text(
        right - 0.15,
        lower,
        f"{layer.params:,} params",
        fontsize=9.5,
        ha="right",
        va="center",
        family="monospace",
        color="#222222",
    )


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
