"""``python -I -m mnist_lab.grading.checker``: the checker process (see `process`)."""

import sys

from mnist_lab.startup import skip_slow_optional_imports

skip_slow_optional_imports()

from mnist_lab.grading.checker.process import main  # noqa: E402

sys.exit(main())
