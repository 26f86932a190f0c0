"""PyTorch references stored for the tests: `CASES` (the table), the stored
file `references.npz` (made by `generate.py`, which needs torch) and the
functions that run a case on each engine (`cases.py`)."""

from __future__ import annotations

from .op_table import OP_CASES
from .training_table import TRAINING_CASES

CASES = {case.name: case for case in OP_CASES + TRAINING_CASES}
assert len(CASES) == len(OP_CASES) + len(TRAINING_CASES), "case names must be unique"
