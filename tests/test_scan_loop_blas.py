"""The GEMM compiled scan loops call (`staticgraph.scan.loop.blas`): NumPy's
BLAS where threadpoolctl finds it, every operand layout, empty products."""

from __future__ import annotations

import numpy as np
import pytest

from staticgraph.runtime import blas_libraries
from staticgraph.scan.loop import blas


def _layouts(a: np.ndarray, b: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    wide = np.zeros((a.shape[0], 2 * a.shape[1]), a.dtype)
    wide[:, ::2] = a
    framed = np.zeros((b.shape[0] + 2, b.shape[1] + 3), b.dtype)
    framed[1:-1, 2:-1] = b
    return [(a, b), (np.asfortranarray(a), b), (a, np.asfortranarray(b)),
            (wide[:, ::2], b),  # no unit stride: copied
            (a, framed[1:-1, 2:-1]),  # a leading dimension wider than the rows
            (np.asfortranarray(a), np.asfortranarray(framed)[1:-1, 2:-1])]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_into_agrees_with_matmul(dtype):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((7, 5)).astype(dtype), rng.standard_normal((5, 9)).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for x, y in _layouts(a, b):
        out = np.full((7, 9), np.nan, dtype)
        blas.gemm_into(x, y, out)
        np.testing.assert_allclose(out, a @ b, rtol=tol, atol=tol)


def test_gemm_into_empty_products():
    out = np.full((3, 4), np.nan)
    blas.gemm_into(np.ones((3, 0)), np.ones((0, 4)), out)
    assert (out == 0).all()
    blas.gemm_into(np.ones((0, 2)), np.ones((2, 4)), np.empty((0, 4)))


def test_the_loops_use_numpys_blas():
    library = blas_libraries.numpy_blas()
    if library is None or library.cblas("cblas_sgemm", "cblas_dgemm") is None:
        assert blas.identity() == "np.dot"
    else:
        assert blas.identity().startswith(f"{library.kind} {library.controller.version}")
