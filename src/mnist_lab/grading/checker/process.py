"""The checker process: computes every score, apart from the student's kernel.

Run as ``python -I -m mnist_lab.grading.checker`` by the grader (`grade.Checker` below is the
grader's side). The exchange, one JSON line each way at a time:

1. the grader writes the start line: the signing key, the rubric, where MNIST and the
   scans are. The checker imports TensorFlow, pytest and all of its own code, checks the
   rubric, imports every check file (`suite.Suite`), reads and verifies MNIST, reads the
   scans into memory, and runs the checks and the Keras loading path once; then it answers
   "ready". Only then does the student's first cell run, so nothing a notebook writes to
   disk (grader code, check files, rubric, data) can change what the checker already holds.
2. after the notebook, the grader asks it to grade the exported artefacts; the checker
   runs the checks with pytest (`suite`) and answers with the results and pytest's
   junit.xml. It then waits for the next request (a
   grader may grade several notebooks with one checker) until its input is closed.

Messages after the start line are signed (`protocol`). The checker writes its answers to a
private copy of its standard output, and points standard output at standard error, so a
stray print (from TensorFlow, say) cannot corrupt the exchange.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import warnings
from pathlib import Path
from types import MappingProxyType

# Everything the checker will use is imported before it says "ready".
import nbformat
import numpy as np

from mnist_lab.contract import fixture_name, load_model_safely
from mnist_lab.grading import protocol
from mnist_lab.grading.catalogue import export_names, extra_names
from mnist_lab.grading.checker.artefacts import (
    Missing,
    Reference,
    load_reference,
    read_exports,
)
from mnist_lab.grading.checker.suite import Suite
from mnist_lab.grading.results import CellError
from mnist_lab.grading.rubric import rubric_from_dict

logger = logging.getLogger("mnist_lab.grading.checker")


def warm_up() -> None:
    """Run the code paths grading will use once, so that all of it is loaded now."""
    import keras
    from IPython.core.inputtransformer2 import TransformerManager
    from PIL import Image

    Image.init()  # loads every image-format plugin
    TransformerManager().transform_cell("%matplotlib inline\nx = 1\n")
    nbformat.validate(nbformat.v4.new_notebook())
    model = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    with tempfile.TemporaryDirectory(prefix="mnist-lab-checker-") as folder:
        model.save(Path(folder) / "warm_up.keras")
        loaded = load_model_safely(Path(folder) / "warm_up.keras")
    loaded.predict(np.zeros((1, 28, 28, 1), dtype="float32"), verbose=0)


def start(config: dict) -> tuple[Suite, Reference]:
    """Load everything grading needs; raises with a message when it cannot."""
    rubric = rubric_from_dict(config["rubric"], source=config.get("rubric_source", "rubric"))
    suite = Suite(rubric, Path(tempfile.mkdtemp(prefix="mnist-lab-checks-")))
    reference = load_reference(config.get("mnist_path"), Path(config["samples_dir"]))
    warm_up()
    # Once over nothing: pytest loads the rest of its own code now, before any notebook.
    nothing = nbformat.v4.new_notebook()
    suite.run(_artefacts(suite, reference, nothing, {}), Path(suite.folder) / "warm-up.xml")
    return suite, reference


def _artefacts(suite: Suite, reference: Reference, notebook, exported: dict) -> dict:
    """The fixtures' values: the notebook's objects (or why each is missing) and the grader's."""
    values = {}
    for name in export_names(suite.checks):
        key = fixture_name(name)
        values[key] = exported.get(key, Missing(name, "was not exported"))
    return {
        **values,
        "exported": MappingProxyType(values),
        "mnist": reference,
        "thresholds": suite.rubric.thresholds,
        "notebook": notebook,
    }


def grade(request: dict, suite: Suite, reference: Reference) -> dict:
    """Run the checks over the exported artefacts; the results and junit.xml as plain data."""
    notebook = nbformat.read(request["notebook"], as_version=4)
    cell_errors = tuple(CellError(**error) for error in request.get("cell_errors", []))
    extra = extra_names(suite.checks)
    exported = read_exports(Path(request["export_dir"]), reference, notebook, cell_errors, extra)
    junit = suite.folder / "junit.xml"
    junit.unlink(missing_ok=True)
    results = suite.run(_artefacts(suite, reference, notebook, exported), junit)
    return {
        "kind": "results",
        "checks": [vars(result) for result in results],
        "junit": junit.read_text(encoding="utf-8") if junit.is_file() else "",
    }


def main() -> int:
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    logging.basicConfig(level=logging.INFO, format="checker: %(message)s", stream=sys.stderr)
    warnings.filterwarnings("ignore")
    Suite.isolate_environment()
    config = json.loads(sys.stdin.buffer.readline())
    key = bytes.fromhex(config["key"])
    try:
        suite, reference = start(config)
    except Exception as error:
        logger.exception("The checker could not start")
        answers.write(protocol.seal(key, {"kind": "error", "message": str(error)}))
        return 2
    answers.write(protocol.seal(key, {"kind": "ready"}))
    for line in sys.stdin.buffer:  # one request per submission, until the grader closes stdin
        request = protocol.unseal(key, line)
        if request is None or request.get("kind") != "grade":
            logger.warning("Ignored a line that is not a signed request from the grader")
            continue
        try:
            answer = grade(request, suite, reference)
        except Exception as error:
            logger.exception("Grading failed")
            answer = {"kind": "error", "message": f"{type(error).__name__}: {error}"}
        answers.write(protocol.seal(key, answer))
        release_models()
    return 0


def release_models() -> None:
    """Free the last submission's models before the next one."""
    import keras

    keras.backend.clear_session()
