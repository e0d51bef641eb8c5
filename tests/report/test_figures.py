"""The report figures: valid PNGs of a sensible size, mistakes marked red, stable names."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_lab.report import figures
from mnist_lab.report.content import LayerInfo
from mnist_lab.report.diagram import draw_model_diagram, layer_category

CAPTION = "Name: Jane Doe    Register number: 212223240001"
MIN_PX, MAX_PX = 300, 4000
RED = np.array([192, 57, 43])  # figures.WRONG_COLOUR


def open_png(path: Path) -> Image.Image:
    """The PNG at `path`, checked to be a PNG between MIN_PX and MAX_PX on each side."""
    assert path.is_file(), f"{path} was not written"
    with Image.open(path) as image:
        image.load()
    assert image.format == "PNG"
    assert all(MIN_PX <= side <= MAX_PX for side in image.size), image.size
    return image


def red_pixels(image: Image.Image) -> int:
    pixels = np.asarray(image.convert("RGB")).astype(int)
    return int((np.abs(pixels - RED).sum(axis=-1) < 30).sum())


def test_figure_caption_names_the_student():
    assert figures.figure_caption("Jane Doe", "212223240001") == CAPTION


def test_accuracy_and_loss_curves_are_pngs(history, tmp_path):
    for plot in (figures.plot_accuracy_curve, figures.plot_loss_curve):
        path = plot(history, tmp_path / f"{plot.__name__}.png", caption=CAPTION)
        open_png(path)


@pytest.mark.parametrize("epochs", [1, 30])
def test_curves_handle_short_and_long_training(epochs, tmp_path):
    rng = np.random.default_rng(epochs)
    history = {key: rng.random(epochs).tolist() for key in ("accuracy", "val_accuracy")}
    open_png(figures.plot_accuracy_curve(history, tmp_path / "a.png", caption=CAPTION))


def test_curves_without_validation_still_draw(tmp_path):
    history = {"loss": [0.5, 0.3, 0.2]}
    open_png(figures.plot_loss_curve(history, tmp_path / "loss.png", caption=CAPTION))


def test_curve_of_a_missing_metric_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no 'accuracy' values"):
        figures.plot_accuracy_curve({"loss": [0.1]}, tmp_path / "a.png", caption=CAPTION)


def test_caption_with_dollar_signs_is_drawn_literally(history, tmp_path):
    # "$...$" would be parsed as mathtext, and an unbalanced "{" would raise.
    caption = "Name: $x^{$ & <b>    Register number: $1"
    open_png(figures.plot_loss_curve(history, tmp_path / "loss.png", caption=caption))


def test_confusion_matrix(make_content, tmp_path):
    content = make_content()
    open_png(figures.plot_confusion_matrix(content.confusion, tmp_path / "cm.png", caption=CAPTION))


def test_non_square_confusion_matrix_is_refused(tmp_path):
    with pytest.raises(ValueError, match="square"):
        figures.plot_confusion_matrix(np.ones((10, 9)), tmp_path / "cm.png", caption=CAPTION)


@pytest.mark.parametrize(
    ("y_true", "y_pred", "count", "expected"),
    [
        ([0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 5], 4, [0, 1, 2, 3]),  # no mistakes: the first 4
        ([0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3, 4, 5, 0, 0], 4, [0, 1, 2, 6]),  # 1 of 4 wrong
        ([0, 1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3, 0, 0, 0, 0], 8, [0, 1, 2, 3, 4, 5, 6, 7]),
        ([0, 1, 2], [1, 1, 1], 40, [0, 1, 2]),  # fewer images than places
    ],
    ids=["no-mistakes", "mistake-pulled-in", "all-fit", "few-images"],
)
def test_select_grid_indices(y_true, y_pred, count, expected):
    chosen = figures.select_grid_indices(np.array(y_true), np.array(y_pred), count)
    assert chosen.tolist() == expected


def test_grid_includes_mistakes_beyond_the_first_images():
    y_true = np.zeros(1000, dtype=int)
    y_pred = y_true.copy()
    y_pred[[500, 600, 700]] = 1
    chosen = figures.select_grid_indices(y_true, y_pred, 40)
    assert len(chosen) == 40
    assert {500, 600, 700} <= set(chosen.tolist())
    assert chosen.tolist() == sorted(chosen.tolist())


@pytest.mark.parametrize("mistakes", [0, 7])
def test_prediction_grid_marks_mistakes_red(mistakes, tmp_path):
    rng = np.random.default_rng(mistakes)
    images = rng.integers(0, 256, (100, 28, 28), dtype=np.uint8)
    y_true = rng.integers(0, 10, 100)
    y_pred = y_true.copy()
    y_pred[:mistakes] = (y_true[:mistakes] + 1) % 10
    path = figures.plot_prediction_grid(
        images, y_true, y_pred, tmp_path / "grid.png", caption=CAPTION
    )
    image = open_png(path)
    assert (red_pixels(image) > 500) == bool(mistakes)


def test_prediction_grid_refuses_mismatched_lengths(tmp_path):
    with pytest.raises(ValueError, match="lengths 3, 2 and 2"):
        figures.plot_prediction_grid(
            np.zeros((3, 28, 28)), np.zeros(2), np.zeros(2), tmp_path / "g.png", caption=CAPTION
        )


def test_scan_predictions_mark_the_wrong_one_red(scans, tmp_path):
    image = open_png(figures.plot_scan_predictions(scans, tmp_path / "s.png", caption=CAPTION))
    assert red_pixels(image) > 500
    right_only = [scan for scan in scans if scan.correct]
    image = open_png(figures.plot_scan_predictions(right_only, tmp_path / "r.png", caption=CAPTION))
    assert red_pixels(image) == 0


def test_no_scans_write_nothing(tmp_path):
    assert figures.plot_scan_predictions([], tmp_path / "s.png", caption=CAPTION) is None
    assert not (tmp_path / "s.png").exists()


def test_many_scans_wrap_into_rows(scans, tmp_path):
    many = [scans[index % len(scans)] for index in range(50)]
    image = open_png(figures.plot_scan_predictions(many, tmp_path / "s.png", caption=CAPTION))
    width, height = image.size
    assert height > width  # 10 rows of 5


def test_unreadable_scan_file_is_still_drawn(scans, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    scan = dataclasses.replace(scans[0], path=broken)
    open_png(figures.plot_scan_predictions([scan], tmp_path / "s.png", caption=CAPTION))


@pytest.mark.parametrize(
    ("kind", "category"),
    [
        ("InputLayer", "input"),
        ("Conv2D", "conv"),
        ("SeparableConv2D", "conv"),
        ("MaxPooling2D", "pool"),
        ("GlobalAveragePooling2D", "pool"),
        ("Dense", "dense"),
        ("Dropout", "dropout"),
        ("BatchNormalization", "normalisation"),
        ("Flatten", "flatten"),
        ("Activation", "activation"),
        ("ReLU", "activation"),
        ("Lambda", "other"),
    ],
)
def test_layer_category(kind, category):
    assert layer_category(kind) == category


def test_diagram_grows_with_the_layer_count(lab_layers, tmp_path):
    small = open_png(
        draw_model_diagram(lab_layers[:3], tmp_path / "3.png", title="t", caption=CAPTION)
    )
    many = (lab_layers * 4)[:20]
    large = open_png(draw_model_diagram(many, tmp_path / "20.png", title="t", caption=CAPTION))
    assert large.size[0] == small.size[0]
    assert large.size[1] > 3 * small.size[1]


def test_diagram_of_no_layers_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no layers"):
        draw_model_diagram((), tmp_path / "d.png", title="t", caption=CAPTION)


def test_diagram_handles_unknown_shapes_and_long_text(tmp_path):
    odd = LayerInfo("x" * 80, "VeryLongCustomLayerClassName", "d" * 90, (), 0)
    open_png(draw_model_diagram([odd] * 3, tmp_path / "d.png", title="t", caption=CAPTION))


def test_draw_all_writes_every_figure_under_stable_names(written_report):
    _, out_dir, _ = written_report  # write_report drew the figures with draw_all
    figure_dir = out_dir / "figures"
    assert sorted(path.name for path in figure_dir.iterdir()) == sorted(
        figures.FIGURE_FILES.values()
    )
    for path in figure_dir.iterdir():
        open_png(path)


@pytest.fixture
def stub_plots(monkeypatch):
    """Replace the drawing functions with stubs that return the path they were given."""

    def stub(*args, **kwargs):  # the figure's path is the last positional argument
        return args[-1]

    for name in (
        "plot_accuracy_curve",
        "plot_loss_curve",
        "plot_confusion_matrix",
        "plot_prediction_grid",
        "draw_model_diagram",
    ):
        monkeypatch.setattr(figures, name, stub)


BASIC_FIGURES = {
    "model_diagram",
    "accuracy_curve",
    "loss_curve",
    "confusion_matrix",
    "test_predictions",
}


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no-improved-no-scans", BASIC_FIGURES),
        ("no-history", {"model_diagram", "confusion_matrix", "test_predictions"}),
        (
            "improved-without-loss",
            BASIC_FIGURES | {"improved_model_diagram", "improved_accuracy_curve"},
        ),
    ],
)
def test_draw_all_leaves_out_what_is_missing(make_content, stub_plots, tmp_path, case, expected):
    content = make_content(improved=None, scans=())
    if case == "no-history":
        content = dataclasses.replace(content, model=dataclasses.replace(content.model, history={}))
    if case == "improved-without-loss":
        history = {"accuracy": [0.9, 0.95]}
        improved = dataclasses.replace(content.model, title="Improved model", history=history)
        content = dataclasses.replace(content, improved=improved)
    drawn = figures.draw_all(content, tmp_path / "figures")
    assert set(drawn) == expected
    assert all(path == tmp_path / "figures" / f"{name}.png" for name, path in drawn.items())


@pytest.mark.parametrize(
    ("name", "size", "cut"),
    [("Jane Doe", 9, False), ("Wolfeschlegel Steinhausen " * 2, 8, False), ("W" * 80, 6, True)],
)
def test_the_caption_fits_the_figure_whatever_the_name(name, size, cut):
    from matplotlib.figure import Figure

    from mnist_lab.report.diagram import _fit_caption
    from mnist_lab.report.figures import figure_caption

    figure = Figure(figsize=(6.4, 4.8))
    caption = figure_caption(name, "212223240001")
    text = figure.text(0.012, 0.01, caption, fontsize=9)
    _fit_caption(figure, text)
    width = text.get_window_extent(figure.canvas.get_renderer()).width  # Agg's, as saved
    assert width <= figure.bbox.width * 0.97
    assert text.get_fontsize() == size
    assert text.get_text().endswith("\u2026") is cut
    assert text.get_text().rstrip("\u2026") == caption[: len(text.get_text().rstrip("\u2026"))]
