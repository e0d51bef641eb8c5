"""The student template and nbgrader: the lab as an nbgrader assignment.

- `points`: the test cells' nbgrader points, derived from the rubric;
- `preprocessors`: the kit's few additions to nbgrader's pipelines;
- `pipeline`: those pipelines, and `configure` for an nbgrader config;
- `make`: ``mnist-lab make-assignment``, the template generated from the solution;
- `course`: ``mnist-lab nbgrader-course``, an nbgrader course directory for the lab;
- `cli`: the two commands.

The test cells themselves call `mnist_lab.grading.kernel.nbgrader_checks`.
"""

from mnist_lab.paths import kit_path

ASSIGNMENT_ID = "mnist_cnn_lab"  # nbgrader's assignment and notebook name
DEFAULT_COURSE_ID = "mnist-lab"
TEMPLATE_NOTEBOOK = kit_path("assignment", f"{ASSIGNMENT_ID}.ipynb")
