"""The student's lab report, built from the run that was graded (``mnist-lab grade --report``).

The grader already has all a report needs once the notebook ran: the executed notebook and
the models, histories and scan outputs its export cell saved. `write_graded_report` lays
those out as `mnist-lab run` would, so that a notebook is executed once for its grade and
its report alike. It runs in the grader's process after the kernel and everything it
started are gone, and after the checker has scored the run, whose scores it never reads or
changes; the models are loaded in Keras safe mode, and only plain files the export cell
wrote (never a link) are read, each copied first into a folder of the grader's own.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from mnist_lab.errors import LabError
from mnist_lab.notebook.execute import ExecutedNotebook
from mnist_lab.report.artefacts import report_artefacts
from mnist_lab.scans import Sample

logger = logging.getLogger(__name__)


def write_graded_report(
    executed: ExecutedNotebook,
    export_dir: Path,
    report_dir: Path,
    *,
    samples: list[Sample],
    samples_dir: Path,
    mnist_path: Path,
) -> bool:
    """Write the lab report of a graded run into ``report_dir``; returns whether it did.

    A run without a trained model or history gets no report, and a warning that says why;
    an earlier report in ``report_dir`` is then removed, so that none is taken for this
    run's. Nothing here can cost the grade: every error is logged, never raised.
    """
    from mnist_lab.quiet import import_tensorflow_quietly
    from mnist_lab.run import REPORT_MARKER, write_report_folder

    try:
        import_tensorflow_quietly()  # the grader's own TensorFlow, for the report's evaluation
        with tempfile.TemporaryDirectory(prefix="mnist-lab-report-") as private:
            artefacts = report_artefacts(export_dir, samples, Path(private))
            write_report_folder(
                executed, artefacts, report_dir, mnist_path=mnist_path, samples_dir=samples_dir
            )
        return True
    except LabError as error:
        logger.warning("No lab report was written to %s: %s", report_dir, error)
    except Exception:  # an export the report cannot read: the grade stands regardless
        logger.exception("No lab report was written to %s", report_dir)
    if (report_dir / REPORT_MARKER).is_file():  # an earlier run's report: not this one's
        shutil.rmtree(report_dir, ignore_errors=True)
    return False
