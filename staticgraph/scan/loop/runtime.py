"""njit helpers the generated scan loops call (matmuls of every rank pattern).

A scan body's matmuls are small and run once per step, so the cost of a
BLAS call (argument checks, dispatch: about 0.1 us, plus threads waking up
on a multi-core BLAS) matters as much as the flops. `matmul2` picks a plain
loop nest for products of at most `SMALL_MATMUL` multiply-adds (the tiny
RNN's 1x16 @ 16x16 takes 0.04 us that way, 0.07-0.09 us through BLAS) and
`blas.gemm_into` (NumPy's BLAS, called straight from compiled code) above it.
Integer and mixed-dtype products always take the loop (BLAS is float only).

Every helper writes into a caller-provided, C-contiguous `out`; none
allocates. They are part of the scan-lowering cache key
(`compiled.fingerprint`): editing this file recompiles the loops. `matmul2`
binds this process's BLAS (`blas.py`), so Numba does not cache it.
"""

from __future__ import annotations

from numba import njit

from .blas import gemm_into

SMALL_MATMUL = 1 << 13  # n*k*m at or below which the loop nest beats a BLAS call

_JIT = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": {"contract"}}


@njit(**_JIT)
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


@njit(**{**_JIT, "cache": False})
def matmul2(a, b, out):
    """out = a @ b for 2-d float operands of out's dtype: loop when small, else BLAS."""
    if a.shape[0] * a.shape[1] * b.shape[1] <= SMALL_MATMUL:
        matmul_loop(a, b, out)
    else:
        gemm_into(a, b, out)


@njit(**_JIT)
def matvec(a, b, out):
    """out[n] = a[n, k] @ b[k]."""
    n, k = a.shape
    for i in range(n):
        acc = out.dtype.type(0)
        for p in range(k):
            acc += a[i, p] * b[p]
        out[i] = acc


@njit(**_JIT)
def vecmat(a, b, out):
    """out[m] = a[k] @ b[k, m]."""
    k, m = b.shape
    for j in range(m):
        out[j] = 0
    for p in range(k):
        ap = a[p]
        for j in range(m):
            out[j] += ap * b[p, j]


@njit(**_JIT)
def vecvec(a, b, out):
    """out[()] = a[k] @ b[k] (out is a 0-d array)."""
    acc = out.dtype.type(0)
    for p in range(a.shape[0]):
        acc += a[p] * b[p]
    out[()] = acc


@njit(**_JIT)
def fill_zero(out):
    """Set every element of a C-contiguous array to 0."""
    flat = out.reshape(out.size)
    for i in range(flat.size):
        flat[i] = 0


# Copies by explicit loops: Numba compiles an array-valued setitem (`a[...] = b`)
# in about 6 s; these compile in a fraction of a second.
@njit(**_JIT)
def copy1(dst, src):
    for i in range(dst.shape[0]):
        dst[i] = src[i]


@njit(**_JIT)
def copy2(dst, src):
    for i in range(dst.shape[0]):
        for j in range(dst.shape[1]):
            dst[i, j] = src[i, j]


@njit(**_JIT)
def copy3(dst, src):
    for i in range(dst.shape[0]):
        for j in range(dst.shape[1]):
            for k in range(dst.shape[2]):
                dst[i, j, k] = src[i, j, k]


@njit(**_JIT)
def copy4(dst, src):
    for i in range(dst.shape[0]):
        for j in range(dst.shape[1]):
            for k in range(dst.shape[2]):
                for m in range(dst.shape[3]):
                    dst[i, j, k, m] = src[i, j, k, m]
