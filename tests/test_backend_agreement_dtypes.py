"""One dtype rule per op (docs/dtypes.md): every elementwise op and reduction x every
supported dtype gives the rule's dtype (or its DTypeError) and the interpreter's
values on dyngraph and the numba backend."""

from __future__ import annotations

import pytest
from agreement_cases import DTYPES, compare, expected_dtype, matrix_outcomes
from numba_backend_util import numba_cache_dir  # noqa: F401

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@pytest.fixture(scope="module")
def reference():
    return {dt: matrix_outcomes(dt, "interpret") for dt in DTYPES}


@pytest.mark.parametrize("dtype", DTYPES)
def test_interpreter_follows_the_rule(dtype, reference):
    bad = [f"{op}: {kind}, the rule says {expected_dtype(op, dtype)}"
           for op, (kind, _) in reference[dtype].items() if kind != expected_dtype(op, dtype)]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("engine", ["dyngraph", "numba"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_engines_agree_with_the_interpreter(dtype, engine, reference):
    bad = compare(matrix_outcomes(dtype, engine), reference[dtype], engine)
    assert not bad, "\n".join(bad)
