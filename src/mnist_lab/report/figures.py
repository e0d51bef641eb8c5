"""The lab report's figures, each written as a PNG that carries the student's caption.

Every function takes the data it draws and a `caption` (the student's name and register
number, which graders compare), writes one PNG and returns its path. Figures are drawn on
their own Agg canvas (see `diagram.new_figure`), so nothing here opens a window or touches
pyplot's global state.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator
from PIL import Image, ImageOps

from mnist_lab.report.content import ModelResult, ReportContent, ScanPrediction
from mnist_lab.report.diagram import PLAIN_TEXT, draw_model_diagram, new_figure, save_figure

logger = logging.getLogger(__name__)

WRONG_COLOUR = "#C0392B"
RIGHT_COLOUR = "#1E8449"
UNKNOWN_COLOUR = "#7F8C8D"
TRAIN_COLOUR, VALIDATION_COLOUR = "#1F77B4", "#FF7F0E"

# File names of the figures `draw_all` writes, by figure name.
FIGURE_FILES: dict[str, str] = {
    name: f"{name}.png"
    for name in (
        "model_diagram",
        "accuracy_curve",
        "loss_curve",
        "confusion_matrix",
        "test_predictions",
        "scanned_digits",
        "improved_model_diagram",
        "improved_accuracy_curve",
        "improved_loss_curve",
    )
}

GRID_COLUMNS = 10
GRID_ERROR_SHARE = 0.25  # at most this share of the prediction grid goes to misclassified images
SCAN_CELL_IN = (3.1, 2.35)  # width, height of one scanned digit's cell
SCAN_THUMBNAIL_PX = 256


def figure_caption(student_name: str, register_number: str) -> str:
    """The caption line every report figure carries."""
    return f"Name: {student_name}    Register number: {register_number}"


def plot_accuracy_curve(
    history: Mapping[str, Sequence[float]],
    path: Path | str,
    *,
    caption: str,
    title: str = "Training Accuracy, Validation Accuracy Vs Iteration Plot",
) -> Path:
    """Training and validation accuracy per epoch (`history["accuracy"]`, `["val_accuracy"]`)."""
    return _plot_metric(history, "accuracy", path, caption=caption, title=title)


def plot_loss_curve(
    history: Mapping[str, Sequence[float]],
    path: Path | str,
    *,
    caption: str,
    title: str = "Training Loss, Validation Loss Vs Iteration Plot",
) -> Path:
    """Training and validation loss per epoch (`history["loss"]`, `history["val_loss"]`)."""
    return _plot_metric(history, "loss", path, caption=caption, title=title)


def _plot_metric(
    history: Mapping[str, Sequence[float]],
    metric: str,
    path: Path | str,
    *,
    caption: str,
    title: str,
) -> Path:
    if not history.get(metric):
        raise ValueError(
            f"The training history has no {metric!r} values (keys: {sorted(history)}); "
            f"expected the History.history of a model compiled with metrics=['accuracy']."
        )
    figure = new_figure(7.5, 4.8)
    axes = figure.add_subplot()
    for key, label, colour, marker in (
        (metric, "training", TRAIN_COLOUR, "o"),
        (f"val_{metric}", "validation", VALIDATION_COLOUR, "s"),
    ):
        values = [float(value) for value in history.get(key) or []]
        if values:
            epochs = range(1, len(values) + 1)
            axes.plot(
                epochs,
                values,
                marker=marker,
                color=colour,
                linewidth=2,
                label=f"{label} {metric} (last {values[-1]:.4f})",
            )
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlim(0.7, len(history[metric]) + 0.3)
    axes.set_xlabel("Epoch")
    axes.set_ylabel(metric.capitalize())
    axes.set_title(title, fontsize=12, fontweight="bold")
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower right" if metric == "accuracy" else "upper right")
    return save_figure(figure, path, caption=caption)


def plot_confusion_matrix(
    confusion: np.ndarray, path: Path | str, *, caption: str, title: str = "Confusion Matrix"
) -> Path:
    """A heatmap of `confusion` (rows true, columns predicted) with each cell's count written
    in it; non-zero counts off the diagonal (the mistakes) are written in red."""
    confusion = np.asarray(confusion)
    if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1]:
        raise ValueError(
            f"Expected a square confusion matrix such as (10, 10); got {confusion.shape}."
        )
    classes = confusion.shape[0]
    total, correct = int(confusion.sum()), int(np.trace(confusion))
    figure = new_figure(7.6, 7.0)
    axes = figure.add_subplot()
    image = axes.imshow(confusion, cmap="Blues", interpolation="nearest")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.03, label="images")
    threshold = confusion.max() / 2 if confusion.size else 0
    for true_label, predicted in np.ndindex(confusion.shape):
        count = int(confusion[true_label, predicted])
        if true_label == predicted:
            colour = "white" if count > threshold else "black"
        else:
            colour = WRONG_COLOUR if count else "#AAAAAA"
        axes.text(
            predicted,
            true_label,
            str(count),
            ha="center",
            va="center",
            color=colour,
            fontsize=9 if classes <= 10 else 7,
            fontweight="bold" if count else "normal",
        )
    axes.set_xticks(range(classes))
    axes.set_yticks(range(classes))
    axes.set_xlabel("Predicted label", fontsize=11)
    axes.set_ylabel("True label", fontsize=11)
    accuracy = f"{correct / total:.2%}" if total else "n/a"
    axes.set_title(
        f"{title}\n{correct:,} of {total:,} test images correct ({accuracy})",
        fontsize=12,
        fontweight="bold",
    )
    return save_figure(figure, path, caption=caption)


def select_grid_indices(
    y_true: np.ndarray, y_pred: np.ndarray, count: int, *, error_share: float = GRID_ERROR_SHARE
) -> np.ndarray:
    """Which test images the prediction grid shows, in test-set order.

    The first misclassified images (at most `error_share` of `count`) are always included, so
    the grid shows the model's mistakes even when it is 99% right; the remaining places go to
    the first images of the test set, as the lab's write-ups show them.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    count = min(count, len(y_true))
    wrong = np.flatnonzero(y_true != y_pred)[: round(count * error_share)]
    chosen = set(wrong.tolist())
    for index in range(len(y_true)):
        if len(chosen) >= count:
            break
        chosen.add(index)
    return np.asarray(sorted(chosen), dtype=int)


def plot_prediction_grid(
    images: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    path: Path | str,
    *,
    caption: str,
    count: int = 40,
    title: str = "Test set predictions",
) -> Path:
    """A grid of `count` test images titled "pred P / true T"; misclassified ones get a red
    title and a red frame. Which images are shown: see `select_grid_indices` (the first images
    of the test set, plus up to a quarter of the grid from the first misclassified ones)."""
    images, y_true, y_pred = np.asarray(images), np.asarray(y_true), np.asarray(y_pred)
    if not len(images) == len(y_true) == len(y_pred):
        raise ValueError(
            "images, y_true and y_pred must have one entry per test image; got lengths "
            f"{len(images)}, {len(y_true)} and {len(y_pred)}."
        )
    indices = select_grid_indices(y_true, y_pred, count)
    rows = max(1, math.ceil(len(indices) / GRID_COLUMNS))
    figure = new_figure(11.0, 1.35 * rows + 1.1)
    vmax = 1.0 if images.size and images.max() <= 1.0 else 255
    for position, index in enumerate(indices):
        axes = figure.add_subplot(rows, GRID_COLUMNS, position + 1)
        axes.imshow(np.squeeze(images[index]), cmap="gray_r", vmin=0, vmax=vmax)
        wrong = y_true[index] != y_pred[index]
        colour = WRONG_COLOUR if wrong else "#222222"
        axes.set_title(
            f"pred {y_pred[index]} / true {y_true[index]}",
            fontsize=8.5,
            color=colour,
            fontweight="bold" if wrong else "normal",
        )
        axes.set_xticks([])
        axes.set_yticks([])
        for spine in axes.spines.values():
            spine.set_color(WRONG_COLOUR if wrong else "#BBBBBB")
            spine.set_linewidth(3 if wrong else 0.8)
    shown_wrong = int(np.sum(y_true[indices] != y_pred[indices]))
    all_wrong = int(np.sum(y_true != y_pred))
    figure.suptitle(
        f"{title}: {len(indices)} shown, {shown_wrong} misclassified (red); "
        f"{all_wrong:,} of {len(y_true):,} misclassified overall",
        fontsize=12,
        fontweight="bold",
    )
    return save_figure(figure, path, caption=caption)


def plot_scan_predictions(
    scans: Sequence[ScanPrediction],
    path: Path | str,
    *,
    caption: str,
    title: str = "New Sample Data Prediction",
) -> Path | None:
    """Each scanned digit as photographed (its own colours) beside the 28x28 view the model
    saw, titled with the prediction, its confidence and the true label; wrong ones framed red.

    With no scans nothing is written and None is returned. Many scans wrap into rows of up
    to five.
    """
    if not scans:
        logger.info("No scanned digits to draw; %s not written.", path)
        return None
    columns = min(len(scans), 4 if len(scans) <= 12 else 5)
    rows = math.ceil(len(scans) / columns)
    cell_width, cell_height = SCAN_CELL_IN
    header_in, footer_in = 0.7, 0.4
    width_in = max(columns * cell_width, 6.2)
    height_in = header_in + rows * cell_height + footer_in
    figure = new_figure(width_in, height_in, constrained=False)
    labelled = [scan for scan in scans if scan.label is not None]
    right = sum(bool(scan.correct) for scan in labelled)
    with mpl.rc_context(PLAIN_TEXT):
        summary = f"{right} of {len(labelled)} correct" if labelled else "true labels unknown"
        if labelled and len(labelled) < len(scans):
            summary += f", {len(scans) - len(labelled)} without a known label"
        figure.text(
            0.5,
            1 - 0.4 / height_in,
            f"{title}: {summary}",
            ha="center",
            va="center",
            fontsize=13,
            fontweight="bold",
        )
        offset_in = (width_in - columns * cell_width) / 2
        for position, scan in enumerate(scans):
            row, column = divmod(position, columns)
            left_in = offset_in + column * cell_width
            top_in = height_in - header_in - row * cell_height
            _draw_scan_cell(figure, scan, left_in, top_in, (width_in, height_in))
    return save_figure(figure, path, caption=caption)


def _draw_scan_cell(
    figure: Figure, scan: ScanPrediction, left_in: float, top_in: float, size_in: tuple
) -> None:
    width_in, height_in = size_in
    cell_width, cell_height = SCAN_CELL_IN
    if scan.correct is None:
        colour, verdict = UNKNOWN_COLOUR, "true label unknown"
    else:
        colour = RIGHT_COLOUR if scan.correct else WRONG_COLOUR
        verdict = f"true {scan.label}" + ("" if scan.correct else "  WRONG")

    def box(x_in, y_in, w_in, h_in):  # inches from the bottom-left -> figure fraction
        return (x_in / width_in, y_in / height_in, w_in / width_in, h_in / height_in)

    margin = 0.08
    x, y, w, h = box(
        left_in + margin,
        top_in - cell_height + margin,
        cell_width - 2 * margin,
        cell_height - 2 * margin,
    )
    figure.add_artist(
        Rectangle(
            (x, y),
            w,
            h,
            transform=figure.transFigure,
            fill=False,
            edgecolor=colour,
            linewidth=3 if scan.correct is False else 1.2,
        )
    )
    figure.text(
        (left_in + cell_width / 2) / width_in,
        (top_in - 0.3) / height_in,
        f"predicted {scan.predicted} ({scan.confidence:.1%})\n{verdict}",
        ha="center",
        va="center",
        fontsize=9.5,
        color=colour,
        fontweight="bold",
    )
    image_in = 1.25
    for slot, (pixels, label, cmap) in enumerate(
        (
            (_thumbnail(scan.path), _shorten(scan.path.name, 20), None),
            (np.asarray(scan.view), "model input 28x28", "gray"),
        )
    ):
        x_in = left_in + 0.2 + slot * (image_in + 0.2)
        axes = figure.add_axes(box(x_in, top_in - 0.6 - image_in, image_in, image_in))
        axes.set_xticks([])
        axes.set_yticks([])
        axes.set_xlabel(label, fontsize=8, labelpad=2)
        if pixels is None:
            axes.text(0.5, 0.5, "cannot open\nimage", ha="center", va="center", fontsize=8)
        else:
            axes.imshow(pixels, cmap=cmap, vmin=0 if cmap else None, vmax=1 if cmap else None)


def _thumbnail(path: Path) -> np.ndarray | None:
    """The image file in its own colours, shrunk to a thumbnail; None when it cannot be read."""
    try:
        with Image.open(path) as image:
            picture = ImageOps.exif_transpose(image).convert("RGB")
    except OSError:
        logger.warning("Cannot open scanned image %s for the report figure.", path)
        return None
    picture.thumbnail((SCAN_THUMBNAIL_PX, SCAN_THUMBNAIL_PX))
    return np.asarray(picture)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def draw_all(content: ReportContent, figure_dir: Path | str) -> dict[str, Path]:
    """Draw every report figure into `figure_dir` under the names in `FIGURE_FILES`.

    The improved model's diagram and curves are drawn only when `content.improved` is set,
    the scanned digits only when there are scans. Returns figure name -> PNG path.
    """
    figure_dir = Path(figure_dir)
    caption = figure_caption(content.student_name, content.register_number)
    drawn: dict[str, Path] = {}
    for prefix, result in (("", content.model), ("improved_", content.improved)):
        if result is not None:
            drawn.update(_draw_model_figures(result, figure_dir, prefix=prefix, caption=caption))
    drawn["confusion_matrix"] = plot_confusion_matrix(
        content.confusion, figure_dir / FIGURE_FILES["confusion_matrix"], caption=caption
    )
    drawn["test_predictions"] = plot_prediction_grid(
        content.x_test,
        content.y_true,
        content.y_pred,
        figure_dir / FIGURE_FILES["test_predictions"],
        caption=caption,
    )
    scans = plot_scan_predictions(
        content.scans, figure_dir / FIGURE_FILES["scanned_digits"], caption=caption
    )
    if scans is not None:
        drawn["scanned_digits"] = scans
    logger.debug("Drew %d report figures in %s", len(drawn), figure_dir)
    return drawn


def _draw_model_figures(
    result: ModelResult, figure_dir: Path, *, prefix: str, caption: str
) -> dict[str, Path]:
    """The model's diagram, and its accuracy and loss curves where its history has them."""
    label = f"{result.title}: " if prefix else ""
    drawn = {
        prefix + "model_diagram": draw_model_diagram(
            result.layers,
            figure_dir / FIGURE_FILES[prefix + "model_diagram"],
            title=result.title,
            caption=caption,
        )
    }
    curves = (
        (
            "accuracy",
            plot_accuracy_curve,
            "Training Accuracy, Validation Accuracy Vs Iteration Plot",
        ),
        ("loss", plot_loss_curve, "Training Loss, Validation Loss Vs Iteration Plot"),
    )
    for metric, plot, title in curves:
        name = f"{prefix}{metric}_curve"
        if not result.history.get(metric):
            logger.warning("%s has no %r history; %s is not drawn.", result.title, metric, name)
            continue
        drawn[name] = plot(
            result.history, figure_dir / FIGURE_FILES[name], caption=caption, title=label + title
        )
    return drawn
