"""``python -I -m mnist_lab.grading.checker``: the checker process (see `process`)."""

import sys

from mnist_lab.grading.checker.process import main

sys.exit(main())
