"""`gemm(a, b, out)`: out = a @ b through staticgraph's own BLAS (`native_blas`).

Called from compiled scan loops and from the numba backend's generated step
functions, only once `native_blas.load()` returned a copy (which registered
the symbols declared here). Operands are 2-d, of one float dtype, with unit
stride along one axis (C or Fortran order, a transpose, a row slice); other
strides take a loop nest. `out` is written whole; it may not overlap `a` or
`b`. `prepare(dtype)` compiles the one specialisation per dtype that every
caller shares. Numba caches these functions on disk: they name the BLAS functions by
symbol, not by address.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, types

from .native_blas import SYMBOLS

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_i32, _p = types.int32, types.voidptr
_SIG = (_i32, _i32, _i32, _i32, _i32, _i32)
_dgemm, _sgemm = (
    types.ExternalFunction(name, types.void(*_SIG, real, _p, _i32, _p, _i32, real, _p, _i32))
    for name, real in zip(SYMBOLS, (types.float64, types.float32)))

_JIT = {"cache": True, "nogil": True}


@njit(**_JIT)
def _layout(x) -> tuple:
    """(transpose flag, leading dim) for cblas, or (0, 0) when neither axis is unit stride."""
    rows, cols = x.shape
    item = x.itemsize
    s0 = x.strides[0] if rows > 1 else max(cols, 1) * item
    s1 = x.strides[1] if cols > 1 else item
    if s1 == item and s0 % item == 0 and s0 >= max(cols, 1) * item:
        return _NO_TRANS, s0 // item
    s0 = x.strides[0] if rows > 1 else item
    s1 = x.strides[1] if cols > 1 else max(rows, 1) * item
    if s0 == item and s1 % item == 0 and s1 >= max(rows, 1) * item:
        return _TRANS, s1 // item
    return 0, 0


@njit(**_JIT)
def _c_contiguous(x) -> bool:
    dense = x.shape[0] <= 1 or x.strides[0] == x.shape[1] * x.itemsize
    return _layout(x)[0] == _NO_TRANS and dense


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"contract"})
def matmul_loop(a, b, out):
    """out[n, m] = a[n, k] @ b[k, m] by an i-p-j loop nest (j innermost: vectorises)."""
    n, k = a.shape
    m = b.shape[1]
    for i in range(n):
        for j in range(m):
            out[i, j] = 0
        for p in range(k):
            aip = a[i, p]
            for j in range(m):
                out[i, j] += aip * b[p, j]


@njit(**_JIT)
def gemm(a, b, out) -> None:
    """out[m, n] = a[m, k] @ b[k, n] for float32 or float64 (all three the same).
    Operands BLAS cannot read in place (no unit stride, `out` not C-contiguous,
    k = 0) take the loop nest instead: no allocation, any strides."""
    m, k = a.shape
    n = b.shape[1]
    ta, lda = _layout(a)
    tb, ldb = _layout(b)
    if ta == 0 or tb == 0 or k == 0 or not _c_contiguous(out):
        matmul_loop(a, b, out)
    elif m > 0 and n > 0:
        if out.itemsize == 8:
            _dgemm(_ROW_MAJOR, ta, tb, m, n, k, 1.0, a.ctypes, lda, b.ctypes, ldb, 0.0,
                   out.ctypes, n)
        else:
            _sgemm(_ROW_MAJOR, ta, tb, m, n, k, np.float32(1.0), a.ctypes, lda, b.ctypes,
                   ldb, np.float32(0.0), out.ctypes, n)


def prepare(dtype) -> None:
    """Compile (or load from Numba's cache) `gemm` for any-layout operands of
    `dtype` (float32 or float64), once: callers of every layout then share it
    instead of compiling a specialisation per layout (about 0.5 s each)."""
    arr = types.Array(numba.from_dtype(np.dtype(dtype)), 2, "A")
    if (arr, arr, arr) in gemm.overloads:
        return
    gemm.disable_compile(False)
    try:
        gemm.compile((arr, arr, arr))
    finally:
        gemm.disable_compile()
