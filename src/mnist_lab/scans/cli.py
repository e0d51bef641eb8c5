"""The `mnist-lab predict` and `mnist-lab check-images` subcommands: thin glue over the library.

Both load the model in Keras safe mode (`load_model_safely`), after importing TensorFlow
quietly; bad usage (no model, an invalid folder) raises `LabError`, which `mnist-lab` prints
and turns into exit status 2.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from collections.abc import Sequence
from pathlib import Path

from mnist_lab.errors import LabError
from mnist_lab.paths import DEFAULT_REPORT_DIR
from mnist_lab.scans.manifest import (
    MANIFEST_NAME,
    ManifestError,
    Sample,
    read_manifest,
    validate_directory,
)
from mnist_lab.scans.predict import (
    LOW_CONFIDENCE,
    MODEL_NAMES,
    VIEW_SCALE,
    ImagePrediction,
    find_model,
    predict_images,
    save_views,
)

EXIT_SOME_FAILED = 1
NAIVE_PREPROCESSING = "naive-inverted"

MODEL_HELP = (
    f"the trained .keras model (default: {DEFAULT_REPORT_DIR / MODEL_NAMES[0]} if it exists, "
    f"else {DEFAULT_REPORT_DIR / MODEL_NAMES[1]}, as written by `mnist-lab run`)"
)
EXIT_STATUS_HELP = (
    "exit status: 0 when every image was predicted, 1 when some could not be (each one's "
    "problem is printed), 2 for bad usage (no model, an invalid folder)."
)
HELP_WIDTH = 79
CHECK_IMAGES_HELP = f"""\
Check a folder of labelled handwritten digits (e.g. your class's own scans, to use
instead of sample_images/): print every problem with it and, when it is valid, what
the model predicts for each image and how many it gets right.

The folder holds the images and a manifest, {MANIFEST_NAME}: a CSV file whose first row
names the columns, with at least 'file' (the image's name in the folder) and 'label'
(the digit written, 0-9); other columns are kept for people and ignored:

    file,label,source,notes
    7_barred_1.png,7,class of 2025,blue ballpoint on lined paper
    3_round_2.jpg,3,class of 2025,

Each image holds one handwritten digit, any size, colour, orientation or ink colour
(PNG, JPEG, BMP, TIFF, GIF, WebP). Every image must be listed once, every listed file
must exist. Problems are all printed at once, so the folder can be fixed in one pass.
"""


def add_scan_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register `predict` and `check-images` on the `mnist-lab` subcommand parsers."""
    predict = subparsers.add_parser(
        "predict",
        help="predict the digit in scanned or photographed images",
        description=(
            "Predict the handwritten digit in each image with a trained model: the digit, the "
            f"model's confidence and its top 3. Predictions below {LOW_CONFIDENCE} confidence "
            "are flagged LOW CONFIDENCE; an image that cannot be read or holds no digit gets "
            "an error line, and the other images are still predicted."
        ),
        epilog=EXIT_STATUS_HELP,
    )
    predict.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="image files")
    predict.add_argument("--model", type=Path, metavar="PATH", help=MODEL_HELP)
    predict.add_argument(
        "--save-views",
        type=Path,
        metavar="DIR",
        help=(
            f"save the 28x28 view the model saw for each image as DIR/<name>.png, scaled up "
            f"{VIEW_SCALE} times"
        ),
    )
    predict.add_argument(
        "--naive",
        action="store_true",
        help=(
            "use the write-ups' step instead of MNIST-style preprocessing (the whole image "
            "squeezed to 28x28, grey, inverted), for comparison"
        ),
    )
    predict.add_argument("--json", action="store_true", help="print the results as JSON")
    predict.set_defaults(handler=_predict)

    check = subparsers.add_parser(
        "check-images",
        help="check a folder of labelled scans and what the model predicts for them",
        description=CHECK_IMAGES_HELP,
        epilog=textwrap.fill(EXIT_STATUS_HELP, width=HELP_WIDTH),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument(
        "directory", type=Path, metavar="DIR", help=f"the folder with {MANIFEST_NAME}"
    )
    check.add_argument("--model", type=Path, metavar="PATH", help=MODEL_HELP)
    check.set_defaults(handler=_check_images)


def _load_model(model: Path | None):
    """The model file (checked before TensorFlow loads, so mistakes are reported fast) and model."""
    path = find_model(model)
    from mnist_lab.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    from mnist_lab.report.build import load_model_safely

    return path, load_model_safely(path)


def _predict(args: argparse.Namespace) -> int:
    path, model = _load_model(args.model)
    preprocessing = NAIVE_PREPROCESSING if args.naive else "to_mnist"
    predictions = predict_images(args.images, model=model, preprocessing=preprocessing)
    views = save_views(predictions, args.save_views) if args.save_views else []
    failed = sum(1 for prediction in predictions if not prediction.predicted)
    if args.json:
        report = {
            "model": str(path),
            "preprocessing": preprocessing,
            "low_confidence_below": LOW_CONFIDENCE,
            "predicted": len(predictions) - failed,
            "failed": failed,
            "images": [prediction.to_dict() for prediction in predictions],
        }
        if args.save_views:
            report["views"] = [str(view) for view in views]
        print(json.dumps(report, indent=2))
    else:
        print(f"Model: {path} (preprocessing: {preprocessing})\n")
        print("\n".join(_prediction_table(predictions)))
        print(f"\n{_summary(predictions)}")
        if args.save_views:
            print(f"Saved {len(views)} view(s) the model saw in {args.save_views}/")
    return EXIT_SOME_FAILED if failed else 0


def _check_images(args: argparse.Namespace) -> int:
    problems = validate_directory(args.directory)
    if problems:
        raise LabError(str(ManifestError(args.directory, problems)))
    samples = read_manifest(args.directory)
    print(f"{args.directory}: {MANIFEST_NAME} is valid ({len(samples)} images).")
    path, model = _load_model(args.model)
    predictions = predict_images([sample.path for sample in samples], model=model)
    right = sum(
        1 for s, p in zip(samples, predictions, strict=True) if p.predicted and p.digit == s.label
    )
    failed = sum(1 for prediction in predictions if not prediction.predicted)
    print(f"Model: {path}\n")
    print("\n".join(_check_table(samples, predictions)))
    print(f"\nRight: {right} of {len(samples)} ({right / len(samples):.1%}).")
    if failed:
        print(f"{failed} of {len(samples)} image(s) could not be predicted (see ERROR above).")
    return EXIT_SOME_FAILED if failed else 0


def _check_table(samples: Sequence[Sample], predictions: Sequence[ImagePrediction]) -> list[str]:
    rows = []
    for sample, prediction in zip(samples, predictions, strict=True):
        if not prediction.predicted:
            rows.append([sample.path.name, sample.label, "-", "-", f"ERROR: {prediction.error}"])
            continue
        result = "right" if prediction.digit == sample.label else "wrong"
        if prediction.low_confidence:
            result += "  LOW CONFIDENCE"
        confidence = f"{prediction.confidence:.3f}"
        rows.append([sample.path.name, sample.label, prediction.digit, confidence, result])
    header = ["file", "label", "predicted", "confidence", "result"]
    return format_table(header, rows, right_aligned={1, 2, 3})


def _prediction_table(predictions: Sequence[ImagePrediction]) -> list[str]:
    rows = []
    for prediction in predictions:
        if prediction.predicted:
            top3 = "  ".join(
                f"{digit} ({probability:.3f})" for digit, probability in prediction.top3
            )
            note = f"LOW CONFIDENCE (below {LOW_CONFIDENCE})" if prediction.low_confidence else ""
            rows.append(
                [prediction.path, prediction.digit, f"{prediction.confidence:.3f}", top3, note]
            )
        else:
            rows.append([prediction.path, "-", "-", "-", f"ERROR: {prediction.error}"])
    header = ["image", "digit", "confidence", "top 3", "note"]
    return format_table(header, rows, right_aligned={1, 2})


def _summary(predictions: Sequence[ImagePrediction]) -> str:
    total = len(predictions)
    failed = sum(1 for prediction in predictions if not prediction.predicted)
    low = sum(1 for prediction in predictions if prediction.low_confidence)
    text = f"{total - failed} of {total} image(s) predicted"
    if low:
        text += f", {low} with LOW CONFIDENCE (below {LOW_CONFIDENCE}: the model is guessing)"
    if failed:
        text += f"; {failed} could not be predicted (see ERROR above)"
    return text + "."


def format_table(
    header: Sequence[str], rows: Sequence[Sequence[object]], *, right_aligned: set[int]
) -> list[str]:
    """Rows as aligned text lines under ``header``; the last column is left ragged."""
    cells = [[str(value) for value in row] for row in [header, *rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]
    lines = []
    for row in cells:
        parts = [
            value.rjust(widths[column]) if column in right_aligned else value.ljust(widths[column])
            for column, value in enumerate(row[:-1])
        ]
        lines.append("  ".join([*parts, row[-1]]).rstrip())
    return lines
