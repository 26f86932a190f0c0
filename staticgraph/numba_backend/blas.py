"""NumPy's BLAS threads around a step of small matmuls.

OpenBLAS splits even a 64x1000x100 product over every core. On a quiet
machine that is up to a core-count faster; on a loaded one (two cores
shared with other processes) its worker threads spin, get descheduled, and
the same product takes 10 to 100 times longer (docs/compiler.md,
"Lowering"). Neither setting is right everywhere, so for each set of
run-time dims whose matmuls are all at most `single_max()` multiply-adds, a
`BlasChoice` measures: it alternates a few calls at one thread with a few
at NumPy's default, keeps the faster, and measures again every couple of
seconds. Switching costs two C calls (under a microsecond); the thread
count is restored after every call, exceptions included.

`GRAPHCOMPARE_BLAS_SINGLE_MAX` sets the bound in multiply-adds (0: never
touch the thread count). Only NumPy's bundled OpenBLAS is recognised; with
another BLAS this is a no-op. The count is process-wide: another Python
thread calling NumPy's BLAS during the step runs at the chosen count too.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import math
import os
from collections.abc import Callable

import numpy as np

from .choice import Probe

ENV_VAR = "GRAPHCOMPARE_BLAS_SINGLE_MAX"
DEFAULT_SINGLE_MAX = 1 << 24  # multiply-adds (33.5 MFLOP)


def single_max() -> int:
    try:
        return int(os.environ.get(ENV_VAR, DEFAULT_SINGLE_MAX))
    except ValueError:
        return DEFAULT_SINGLE_MAX


def numpy_openblas(*names: str) -> tuple[list, str] | None:
    """The functions `names` (without SciPy's prefix and the ILP64 suffix) of
    NumPy's bundled OpenBLAS, and the suffix found ('64_': 64-bit integer
    arguments), or None when NumPy's BLAS is not that library."""
    libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libs, "*openblas*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_", ""):
            for suffix in ("64_", ""):
                fns = [getattr(lib, f"{prefix}{name}{suffix}", None) for name in names]
                if None not in fns:
                    return fns, suffix
    return None


@functools.cache
def _openblas() -> tuple[Callable, Callable] | None:
    """(get_num_threads, set_num_threads) of NumPy's bundled OpenBLAS, or None."""
    found = numpy_openblas("openblas_get_num_threads", "openblas_set_num_threads")
    if found is None:
        return None
    (get, put), _ = found
    put.argtypes = [ctypes.c_int]
    return get, put


class BlasChoice:
    """For one key: one BLAS thread (option 1) or NumPy's default (option 0),
    whichever ran the whole call faster lately (`choice.Probe`)."""

    def __init__(self, eligible: bool) -> None:
        self.eligible = eligible and _openblas() is not None
        self.probe = Probe(default=1)

    def enter(self) -> int:
        """Set the thread count for this call; the count to restore (0: unchanged)."""
        if not self.eligible or not self.probe.pick():
            return 0
        get, put = _openblas()
        n = get()
        if n > 1:
            put(1)
            return n
        return 0

    def leave(self, previous: int) -> None:
        if not self.eligible:
            return
        self.probe.done()
        if previous:
            _openblas()[1](previous)

    def describe(self) -> str:
        if not self.eligible:
            return "BLAS threads: the library's default"
        return f"BLAS threads: {'one' if self.probe.best else 'default'} (measured)"


def matmul_macs(a_shape: tuple, b_shape: tuple) -> int:
    """Multiply-adds of np.matmul on these shapes (vector cases included)."""
    if not a_shape or not b_shape:
        return 0
    m = a_shape[-2] if len(a_shape) > 1 else 1
    n = b_shape[-1] if len(b_shape) > 1 else 1
    batch = np.broadcast_shapes(a_shape[:-2], b_shape[:-2])
    return int(m * a_shape[-1] * n * math.prod(batch))
