"""The only code of the grader that runs in the student's kernel, where a student can reach it.

- `export`: the cell the grader appends to a notebook, which saves what the checks ask for
  as plain data (no pickles) for the checker process, which trusts none of it;
- `nbgrader_checks`: the notebook's own test cells, which run the checks on the kernel's
  objects, for nbgrader and for a student's own validation; a student could fool these,
  which is why `mnist-lab grade` scores in the checker process instead.
"""
