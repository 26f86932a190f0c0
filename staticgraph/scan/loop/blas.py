"""`gemm_into(a, b, out)`: `out = a @ b` from compiled loops, on NumPy's BLAS.

Numba's own `np.dot` calls the BLAS SciPy ships, a second library with its
own thread pool: in a step that also runs NumPy's matmuls (the hoisted
products around a scan), the idle workers of one pool spin on the cores the
other pool's workers need (docs/compiler.md, "Lowering"). The compiled
loops call NumPy's `cblas_sgemm`/`cblas_dgemm` instead, the library whose
thread count the numba backend chooses per call (`numba_backend.blas`): its
addresses are registered as LLVM symbols named after the integer width
(`graphcompare_cblas_sgemm_ilp64`) and called as Numba external functions.
Where threadpoolctl finds no such library, `gemm_into` is `np.dot`.

The functions here bind this process's library, so Numba does not cache
them; the scan-loop cache key holds `identity()`.
"""

from __future__ import annotations

import ctypes

import llvmlite.binding as llvm
import numpy as np
from numba import njit, types

from ...runtime import blas_libraries, cblas
from ...runtime.cblas import NO_TRANS, ROW_MAJOR


def _external_gemms() -> tuple[str, tuple | None]:
    """(identity, (sgemm, dgemm) external functions or None)."""
    library = blas_libraries.numpy_blas()
    found = library.cblas("cblas_sgemm", "cblas_dgemm") if library is not None else None
    if found is None:
        return "np.dot", None
    fns, ilp64 = found
    width = "ilp64" if ilp64 else "lp64"
    index = types.int64 if ilp64 else types.int32
    externals = []
    for fn, name, real in zip(fns, ("sgemm", "dgemm"), (types.float32, types.float64)):
        symbol = f"graphcompare_cblas_{name}_{width}"
        llvm.add_symbol(symbol, ctypes.cast(fn, ctypes.c_void_p).value)
        externals.append(types.ExternalFunction(symbol, types.void(
            types.int32, types.int32, types.int32, index, index, index, real, types.voidptr,
            index, types.voidptr, index, real, types.voidptr, index)))
    return f"{library.kind} {library.controller.version} {width}", tuple(externals)


_IDENTITY, _EXTERNALS = _external_gemms()


def identity() -> str:
    """Which GEMM the loops call (part of the scan-loop cache key)."""
    return _IDENTITY


layout = njit(nogil=True)(cblas.layout)

if _EXTERNALS is None:
    @njit(nogil=True)
    def gemm_into(a, b, out):
        """out = a @ b (2-d, one float dtype; `out` C-contiguous)."""
        np.dot(a, b, out)
else:
    _SGEMM, _DGEMM = _EXTERNALS

    @njit(nogil=True)
    def gemm_into(a, b, out):
        """out = a @ b (2-d, one float dtype; `out` C-contiguous), one cblas call;
        an operand without a unit stride is copied first."""
        m, n = out.shape
        k = a.shape[1]
        if m == 0 or n == 0:
            return
        if k == 0:
            out[:] = 0
            return
        ta, lda = layout(a)
        if ta == 0:
            a = np.ascontiguousarray(a)
            ta, lda = NO_TRANS, k
        tb, ldb = layout(b)
        if tb == 0:
            b = np.ascontiguousarray(b)
            tb, ldb = NO_TRANS, n
        if out.itemsize == 4:
            _SGEMM(ROW_MAJOR, ta, tb, m, n, k, 1.0, a.ctypes, lda, b.ctypes, ldb, 0.0,
                   out.ctypes, n)
        else:
            _DGEMM(ROW_MAJOR, ta, tb, m, n, k, 1.0, a.ctypes, lda, b.ctypes, ldb, 0.0,
                   out.ctypes, n)
