"""`mnist-lab nbgrader-course DIR`: an nbgrader course directory for the lab.

It holds the solution as nbgrader's source (``source/mnist_cnn_lab/mnist_cnn_lab.ipynb``),
an ``nbgrader_config.py`` that applies the kit's pipelines (`pipeline.configure`), and
``student_nbgrader_config.py``, the settings for the students' own nbgrader (the course,
the exchange, and a cell time limit that lets ``nbgrader validate`` train the model).
nbgrader makes everything else there: ``release/``, ``submitted/``, ``autograded/``,
``feedback/``, the gradebook ``gradebook.db``, and the exchange (``exchange/`` unless given).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from mnist_lab.assignment import ASSIGNMENT_ID, DEFAULT_COURSE_ID
from mnist_lab.grading.rubric import load_rubric
from mnist_lab.paths import SOLUTION_NOTEBOOK

logger = logging.getLogger(__name__)

CONFIG_NAME = "nbgrader_config.py"
CONFIG = '''\
"""nbgrader configuration for the MNIST CNN lab, written by `mnist-lab nbgrader-course`.

Run nbgrader's commands in this folder; see "Grading with nbgrader" in the kit's
docs/instructors.md.
`configure` sets the kit's nbgrader pipelines (mnist_lab/assignment/pipeline.py): the
rubric's time limit for each cell, changed or deleted check cells put back with a note,
TensorFlow's stderr lines ignored, bonus points as extra credit, hidden checks hidden in
the feedback.
"""

from mnist_lab.assignment.pipeline import configure

c = get_config()  # noqa: F821 (nbgrader defines get_config)
c.CourseDirectory.course_id = {course_id!r}
c.Exchange.root = {exchange!r}
configure(c{rubric})
'''


STUDENT_CONFIG_NAME = "student_nbgrader_config.py"
STUDENT_CONFIG = '''\
"""nbgrader settings for the students of the MNIST CNN lab, written by
`mnist-lab nbgrader-course`.

Copy this file to /etc/jupyter/nbgrader_config.py on the course's JupyterHub (every
student), or to ~/.jupyter/nbgrader_config.py (one student). With it, students' nbgrader
finds the course and its exchange without --course and --Exchange.root, and "Validate"
gives each cell the rubric's time limit: nbgrader's default, 30 s, stops validation in the
cell that trains the model. It needs nothing but nbgrader; see "Grading with nbgrader" in
the kit's docs/instructors.md.
"""

c = get_config()  # noqa: F821 (nbgrader defines get_config)
c.CourseDirectory.course_id = {course_id!r}
c.Exchange.root = {exchange!r}
c.Execute.timeout = {timeout!r}
'''


def make_course(
    directory: str | os.PathLike,
    *,
    course_id: str = DEFAULT_COURSE_ID,
    exchange: str | os.PathLike | None = None,
    solution: str | os.PathLike = SOLUTION_NOTEBOOK,
    rubric: str | os.PathLike | None = None,
    kit_source: str | None = None,
) -> Path:
    """Lay out the course directory ``directory``; returns its source notebook's path.

    The source notebook is always refreshed from ``solution``; an existing
    ``nbgrader_config.py`` is kept (it may hold the instructor's own settings);
    ``student_nbgrader_config.py`` is written anew from the arguments. A ``rubric``
    other than the kit's (with check files of the instructor's, say) is named in the config,
    and so is ``kit_source``, what the template's set-up cell installs the kit from.
    """
    directory = Path(directory).resolve()
    limits = load_rubric(rubric).limits  # a bad rubric stops here, not in nbgrader
    source = directory / "source" / ASSIGNMENT_ID / f"{ASSIGNMENT_ID}.ipynb"
    source.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(solution, source)
    logger.info("Source notebook: %s", source)
    config = directory / CONFIG_NAME
    exchange = Path(exchange).resolve() if exchange else directory / "exchange"
    student_config = directory / STUDENT_CONFIG_NAME
    # Made from the arguments each time (it holds nothing of the instructor's own).
    student_config.write_text(
        STUDENT_CONFIG.format(
            course_id=course_id,
            exchange=str(exchange),
            timeout=limits.cell_timeout_s,
        ),
        encoding="utf-8",
    )
    logger.info("Wrote %s, the students' nbgrader settings", student_config)
    if config.exists():
        logger.info("Kept the existing %s", config)
    else:
        config.write_text(
            CONFIG.format(
                course_id=course_id,
                exchange=str(exchange),
                rubric=(f", rubric={str(Path(rubric).resolve())!r}" if rubric else "")
                + (f", kit_source={kit_source!r}" if kit_source else ""),
            ),
            encoding="utf-8",
        )
        logger.info("Wrote %s (exchange: %s)", config, exchange)
    return source
