"""`mnist-lab predict` and `mnist-lab check-images`: output, exit codes, and clear errors.

The models are tiny and untrained (seeded), saved once per session: `model_file` predicts
arbitrary digits, `unsure_model_file` gives every digit 0.1 (always LOW CONFIDENCE).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from mnist_lab.cli import main
from mnist_lab.quiet import import_tensorflow_quietly
from mnist_lab.scans.manifest import MANIFEST_NAME
from mnist_lab.scans.predict import LOW_CONFIDENCE, MODEL_NAMES, VIEW_SCALE
from tests.scans.test_predict import BAD_INPUTS, save_digit

SEED = 1234


def _save_model(path: Path, *, zeros: bool) -> Path:
    import_tensorflow_quietly()
    import keras
    from keras import layers

    keras.utils.set_random_seed(SEED)
    initializer = "zeros" if zeros else "glorot_uniform"
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(4, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(10, activation="softmax", kernel_initializer=initializer),
        ]
    )
    model.save(path)
    return path


@pytest.fixture(scope="session")
def model_file(tmp_path_factory) -> Path:
    return _save_model(tmp_path_factory.mktemp("models") / "tiny.keras", zeros=False)


@pytest.fixture(scope="session")
def unsure_model_file(tmp_path_factory) -> Path:
    return _save_model(tmp_path_factory.mktemp("models") / "unsure.keras", zeros=True)


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    status = main(["-q", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def row_for(out: str, name: str) -> str:
    [row] = [line for line in out.splitlines() if name in line and "Model:" not in line]
    return row


def labelled_folder(tmp: Path, manifest: str, shapes: dict[str, str]) -> Path:
    """A folder with a digit drawn in each of ``shapes`` (name -> shape) and ``manifest``."""
    folder = tmp / "scans"
    folder.mkdir()
    for name, shape in shapes.items():
        save_digit(folder / name, shape)
    (folder / MANIFEST_NAME).write_text(manifest, encoding="utf-8")
    return folder


GOOD_FOLDER = {"7_a.png": "seven", "4_b.jpg": "four", "0_c.png": "zero"}
GOOD_MANIFEST = "file,label,notes\n7_a.png,7,drawn\n4_b.jpg,4,\n0_c.png,0,\n"


def test_predict_prints_a_table_and_exits_0(capsys, model_file, tmp_path):
    seven, four = save_digit(tmp_path / "7.png"), save_digit(tmp_path / "4.png", "four")
    status, out, err = run_cli(capsys, "predict", str(seven), str(four), "--model", str(model_file))
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == f"Model: {model_file} (preprocessing: to_mnist)"
    header = lines[2]
    assert header.split() == ["image", "digit", "confidence", "top", "3", "note"]
    for path in (seven, four):
        row = row_for(out, str(path))
        top3 = header.index("top 3")
        assert row[top3].isdigit() and row[top3 - 2 : top3] == "  ", "columns are aligned"
        fields = row.split()  # path, digit, confidence, 3 x (digit, probability), note
        assert fields[1] == fields[3] and fields[4] == f"({fields[2]})"
    assert "2 of 2 image(s) predicted" in out and "could not" not in out


@pytest.mark.parametrize(("make_bad", "message"), BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_predict_reports_a_bad_image_and_predicts_the_others(
    make_bad, message, capsys, model_file, tmp_path
):
    good, bad = save_digit(tmp_path / "good.png"), make_bad(tmp_path)
    status, out, _ = run_cli(capsys, "predict", str(bad), str(good), "--model", str(model_file))
    assert status == 1
    assert "ERROR: " in row_for(out, str(bad)) and message in row_for(out, str(bad))
    assert "ERROR" not in row_for(out, str(good))
    assert "1 of 2 image(s) predicted" in out and "; 1 could not be predicted" in out


def test_predict_counts_every_failure_in_a_batch(capsys, model_file, tmp_path):
    bad = [str(make_bad(tmp_path)) for make_bad, _ in BAD_INPUTS.values()]
    good = str(save_digit(tmp_path / "good.png"))
    status, out, _ = run_cli(capsys, "predict", *bad, good, "--model", str(model_file))
    assert status == 1
    assert f"1 of {len(bad) + 1} image(s) predicted" in out
    assert f"; {len(bad)} could not be predicted" in out


def test_predict_flags_low_confidence(capsys, unsure_model_file, tmp_path):
    path = save_digit(tmp_path / "7.png")
    status, out, _ = run_cli(capsys, "predict", str(path), "--model", str(unsure_model_file))
    assert status == 0
    assert f"LOW CONFIDENCE (below {LOW_CONFIDENCE})" in row_for(out, str(path))
    assert "1 with LOW CONFIDENCE" in out


def test_predict_json(capsys, unsure_model_file, tmp_path):
    good, missing = save_digit(tmp_path / "7.png"), tmp_path / "missing.png"
    status, out, _ = run_cli(
        capsys, "predict", str(good), str(missing), "--json", "--model", str(unsure_model_file)
    )
    assert status == 1
    report = json.loads(out)
    assert report["predicted"] == 1 and report["failed"] == 1
    assert report["low_confidence_below"] == LOW_CONFIDENCE
    first, second = report["images"]
    assert first["path"] == str(good) and first["low_confidence"] is True
    assert first["confidence"] == pytest.approx(0.1) and len(first["top3"]) == 3
    assert second["digit"] is None and "No file at" in second["error"]


@pytest.mark.parametrize(
    ("flag", "preprocessing"),
    [pytest.param([], "to_mnist", id="default"), pytest.param(["--naive"], "naive-inverted")],
)
def test_predict_save_views_writes_a_png_per_predicted_image(
    flag, preprocessing, capsys, model_file, tmp_path
):
    good, blank = save_digit(tmp_path / "7.png"), BAD_INPUTS["blank-page"][0](tmp_path)
    views = tmp_path / "views"
    args = [str(good), str(blank), "--save-views", str(views), "--model", str(model_file)]
    status, out, _ = run_cli(capsys, "predict", *args, *flag)
    assert f"(preprocessing: {preprocessing})" in out
    if preprocessing == "to_mnist":
        assert status == 1, "a blank page holds no digit"
        expected = ["7.png"]
    else:
        assert status == 0, "the naive step predicts even a blank page"
        expected = ["7.png", "blank.png"]
    assert f"Saved {len(expected)} view(s) the model saw in {views}/" in out
    assert sorted(path.name for path in views.iterdir()) == expected
    with Image.open(views / "7.png") as image:
        assert image.format == "PNG" and image.size == (28 * VIEW_SCALE, 28 * VIEW_SCALE)


@pytest.mark.parametrize(
    ("present", "used"),
    [
        pytest.param(MODEL_NAMES, MODEL_NAMES[0], id="improved-model"),
        pytest.param(MODEL_NAMES[1:], MODEL_NAMES[1], id="lab-model"),
    ],
)
def test_predict_finds_the_model_mnist_lab_run_wrote(
    present, used, capsys, model_file, tmp_path, monkeypatch
):
    report = tmp_path / "build" / "report"
    report.mkdir(parents=True)
    for name in present:
        shutil.copy(model_file, report / name)
    save_digit(tmp_path / "7.png")
    monkeypatch.chdir(tmp_path)
    status, out, _ = run_cli(capsys, "predict", "7.png")
    assert status == 0
    assert out.startswith(f"Model: {Path('build/report') / used} ")


@pytest.mark.parametrize("command", ["predict", "check-images"])
def test_no_model_is_bad_usage_with_a_hint(command, capsys, tmp_path, monkeypatch):
    target = save_digit(tmp_path / "7.png")
    if command == "check-images":
        target = labelled_folder(tmp_path, GOOD_MANIFEST, GOOD_FOLDER)
    monkeypatch.chdir(tmp_path)
    status, _, err = run_cli(capsys, command, str(target))
    assert status == 2
    assert f"mnist-lab {command}: No trained model found" in err
    assert "run `mnist-lab run` first or pass --model" in err


@pytest.mark.parametrize(
    ("model_name", "message"),
    [
        pytest.param("no.keras", "No model file at", id="missing"),
        pytest.param("notes.keras", "could not be loaded safely", id="not-a-model"),
    ],
)
def test_a_bad_model_file_is_bad_usage(model_name, message, capsys, tmp_path):
    path = save_digit(tmp_path / "7.png")
    (tmp_path / "notes.keras").write_text("not a model")
    status, out, err = run_cli(capsys, "predict", str(path), "--model", str(tmp_path / model_name))
    assert status == 2 and out == ""
    assert message in err


def test_check_images_reports_each_prediction(capsys, model_file, tmp_path):
    folder = labelled_folder(tmp_path, GOOD_MANIFEST, GOOD_FOLDER)
    status, out, err = run_cli(capsys, "check-images", str(folder), "--model", str(model_file))
    assert status == 0, err
    assert f"{folder}: {MANIFEST_NAME} is valid (3 images)." in out
    table = out.split("\n\n")[1].splitlines()
    assert table[0].split() == ["file", "label", "predicted", "confidence", "result"]
    right = 0
    for name in GOOD_FOLDER:
        fields = row_for(out, name).split()
        assert fields[0] == name and fields[1] == name[0]
        assert fields[4] == ("right" if fields[2] == fields[1] else "wrong")
        right += fields[4] == "right"
    assert f"Right: {right} of 3 ({right / 3:.1%})." in out


def test_check_images_reports_an_unreadable_listed_image(capsys, model_file, tmp_path):
    folder = labelled_folder(tmp_path, GOOD_MANIFEST + "blank.png,3,\n", GOOD_FOLDER)
    BAD_INPUTS["blank-page"][0](folder)
    status, out, _ = run_cli(capsys, "check-images", str(folder), "--model", str(model_file))
    assert status == 1
    assert "ERROR: No ink found" in row_for(out, "blank.png")
    assert "of 4 (" in out and "1 of 4 image(s) could not be predicted" in out


@pytest.mark.parametrize(
    ("manifest", "problems"),
    [
        pytest.param(None, [f"no {MANIFEST_NAME} in"], id="missing-labels-csv"),
        pytest.param(
            GOOD_MANIFEST.replace("7_a.png,7", "7_a.png,11"),
            ["label '11' for 7_a.png is not a digit 0-9"],
            id="label-11",
        ),
        pytest.param(
            GOOD_MANIFEST + "9_gone.png,9,\n",
            ["9_gone.png is listed but not in"],
            id="listed-file-missing",
        ),
        pytest.param(
            "file,label\n7_a.png,seven\n4_b.jpg,4\n4_b.jpg,4\nlost.png,2\n",
            [
                "line 2: label 'seven' for 7_a.png is not a digit 0-9",
                "line 4: 4_b.jpg is listed again",
                "line 5: lost.png is listed but not in",
                "0_c.png is in the folder but not in labels.csv",
            ],
            id="every-problem-at-once",
        ),
    ],
)
def test_check_images_lists_every_problem_and_exits_2(
    manifest, problems, capsys, model_file, tmp_path
):
    folder = labelled_folder(tmp_path, manifest or "", GOOD_FOLDER)
    if manifest is None:
        (folder / MANIFEST_NAME).unlink()
    status, out, err = run_cli(capsys, "check-images", str(folder), "--model", str(model_file))
    assert status == 2
    assert out == "", "no predictions for an invalid folder"
    assert err.startswith(f"mnist-lab check-images: {len(err.splitlines()) - 2} problem(s)")
    for problem in problems:
        assert problem in err
    assert "Expected a file labels.csv there with the columns file, label" in err


def test_check_images_help_documents_the_manifest(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["check-images", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert MANIFEST_NAME in out and "file,label" in out and "0-9" in out
    assert "exit status: 0" in out
