"""How a 2-d array is handed to cblas: its transpose flag and leading dimension.

Shared by the numba backend's GEMM update, which calls `layout` from Python,
and the compiled scan loops' GEMM, which calls it compiled by `numba.njit`
(one definition; plain Python here, so importing it compiles nothing).
"""

from __future__ import annotations

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112


def layout(x) -> tuple[int, int]:
    """(transpose flag, leading dimension) for cblas; (0, 0) without a unit stride."""
    rows, cols = x.shape
    item = x.itemsize
    s0, s1 = x.strides
    if cols <= 1 or s1 == item:
        ld = s0 // item if rows > 1 else max(cols, 1)
        if s0 % item == 0 and ld >= max(cols, 1):
            return NO_TRANS, ld
    if rows <= 1 or s0 == item:
        ld = s1 // item if cols > 1 else max(rows, 1)
        if s1 % item == 0 and ld >= max(rows, 1):
            return TRANS, ld
    return 0, 0
