"""`gemm_update(a, b, out, alpha)`: `out += alpha * (a @ b)` in one BLAS call.

The lowering of `passes.gemm_update` (an SGD update fused into its
gradient's matmul). NumPy has no GEMM with a `beta`, so this calls
`cblas_dgemm`/`cblas_sgemm` through ctypes, from the library threadpoolctl
finds behind NumPy (`blas_libraries.numpy_blas`): the same library, kernels
and thread pool as every `np.matmul` of the step (a second BLAS would bring
a second spinning pool: docs/compiler.md). About 4 us of Python per call.
`available()` is False where that library is not found or exports no cblas
GEMM; the numba backend then does not run the pass (`blas.features` says so).

BLAS reads operands with unit stride along one axis (C or Fortran order, a
transpose, a row slice) in place; others are copied first. `out` is a
planned buffer or a variable's own storage, both C-contiguous (any other
goes through a C-contiguous copy).
"""

from __future__ import annotations

import ctypes
import functools

import numpy as np

from ..runtime import blas_libraries
from ..runtime.cblas import NO_TRANS, ROW_MAJOR, layout


def _cblas() -> dict | None:
    """{dtype: cblas_?gemm} of NumPy's BLAS, or None."""
    return _gemm_functions(blas_libraries.numpy_blas())


@functools.cache
def _gemm_functions(library: blas_libraries.BlasLibrary | None) -> dict | None:
    """{dtype: cblas_?gemm} of `library`, or None."""
    found = library.cblas("cblas_dgemm", "cblas_sgemm") if library is not None else None
    if found is None:
        return None
    fns, ilp64 = found
    index, ptr = (ctypes.c_int64 if ilp64 else ctypes.c_int), ctypes.c_void_p
    for fn, real in zip(fns, (ctypes.c_double, ctypes.c_float)):
        fn.argtypes = [ctypes.c_int] * 3 + [index] * 3 + [real, ptr, index, ptr, index, real,
                                                          ptr, index]
        fn.restype = None
    return dict(zip((np.float64, np.float32), fns))


def available() -> bool:
    return _cblas() is not None


def _address(x: np.ndarray) -> int:
    return x.__array_interface__["data"][0]


def _operand(x: np.ndarray) -> tuple[np.ndarray, int, int]:
    """(array, transpose flag, leading dimension) BLAS can read: `x`, or a copy."""
    trans, ld = layout(x)
    if not trans:
        x = np.ascontiguousarray(x)
        trans, ld = NO_TRANS, max(x.shape[1], 1)
    return x, trans, ld


def gemm_update(a: np.ndarray, b: np.ndarray, out: np.ndarray, alpha: float) -> None:
    """out += alpha * (a @ b); `out` overlaps neither operand."""
    if not out.flags.c_contiguous:  # not one of the backend's buffers: through a copy
        tmp = np.ascontiguousarray(out)
        gemm_update(a, b, tmp, alpha)
        np.copyto(out, tmp)
        return
    (a, ta, lda), (b, tb, ldb) = _operand(a), _operand(b)
    m, n = out.shape
    if m and n:  # addresses from __array_interface__: `.ctypes` caches objects per array
        _cblas()[out.dtype.type](ROW_MAJOR, ta, tb, m, n, a.shape[1], alpha, _address(a),
                                 lda, _address(b), ldb, 1.0, _address(out), n)
