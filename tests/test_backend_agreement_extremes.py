"""max/min/argmax/argmin of each integer dtype's extremes (and of bools) are
NumPy's on dyngraph, the interpreter and the numba backend."""

from __future__ import annotations

import pytest
from extreme_cases import EXTREME_DTYPES, mismatches
from numba_backend_util import numba_cache_dir  # noqa: F401


@pytest.mark.parametrize("engine", ["dyngraph", "interpret", "numba"])
@pytest.mark.parametrize("dtype", EXTREME_DTYPES)
def test_reductions_of_extremes_are_numpys(dtype, engine):
    bad = mismatches(engine, dtype)
    assert not bad, "\n".join(bad)
