"""The checker process: it computes every score, apart from the student's kernel.

The grader starts it as ``python -I -m mnist_lab.grading.checker`` (`process`), before the
notebook's first cell. It imports the check files and runs them with pytest (`suite`) over
what the notebook exported, read back as plain, typed values (`artefacts`), with the facts
about Keras models the checks use (`models`). Nothing here runs in the student's kernel.
"""
