"""NumPy's BLAS threads around a step of small matmuls, and the BLAS features
a numba session uses.

OpenBLAS splits even a 64x1000x100 product over every core. On a quiet
machine that is up to a core-count faster; on a loaded one (two cores
shared with other processes) its worker threads spin, get descheduled, and
the same product takes 10 to 100 times longer (docs/compiler.md,
"Lowering"). Neither setting is right everywhere, so for each set of
run-time dims whose matmuls are all at most `single_max()` multiply-adds, a
`BlasChoice` measures: it alternates a few calls at one thread with a few
at the library's default, keeps the faster, and measures again every couple
of seconds. The thread count is set through threadpoolctl
(`staticgraph.runtime.blas_libraries`) and restored after every call, exceptions
included.

`GRAPHCOMPARE_BLAS_SINGLE_MAX` sets the bound in multiply-adds (0: never
touch the thread count). Where threadpoolctl does not find NumPy's BLAS
this is a no-op, and `features()` says so. The count is process-wide:
another Python thread calling NumPy's BLAS during the step runs at the
chosen count too.
"""

from __future__ import annotations

import math
import os

import numpy as np

from ..runtime import blas_libraries
from . import gemm
from .choice import Probe

ENV_VAR = "GRAPHCOMPARE_BLAS_SINGLE_MAX"
DEFAULT_SINGLE_MAX = 1 << 24  # multiply-adds (33.5 MFLOP)


def single_max() -> int:
    try:
        return int(os.environ.get(ENV_VAR, DEFAULT_SINGLE_MAX))
    except ValueError:
        return DEFAULT_SINGLE_MAX


class BlasChoice:
    """For one key: one BLAS thread (option 1) or the library's default
    (option 0), whichever ran the whole call faster lately (`choice.Probe`)."""

    def __init__(self, eligible: bool) -> None:
        self.library = blas_libraries.numpy_blas() if eligible else None
        self.eligible = self.library is not None
        self.probe = Probe(default=1)

    def enter(self) -> int:
        """Set the thread count for this call; the count to restore (0: unchanged)."""
        if not self.eligible or not self.probe.pick():
            return 0
        n = self.library.threads()
        if n > 1:
            self.library.set_threads(1)
            return n
        return 0

    def leave(self, previous: int) -> None:
        if not self.eligible:
            return
        self.probe.done()
        if previous:
            self.library.set_threads(previous)

    def describe(self) -> str:
        if not self.eligible:
            return "BLAS threads: the library's default"
        return f"BLAS threads: {'one' if self.probe.best else 'default'} (measured)"


def features() -> list[str]:
    """One line per BLAS feature of the numba backend: in use, or off and why."""
    found = blas_libraries.numpy_blas()
    if found is None:
        why = (f"threadpoolctl finds no BLAS it controls behind NumPy (NumPy's build "
               f"names {blas_libraries.numpy_blas_name()})")
        return [f"NumPy's BLAS: not found: {why}",
                "per-call BLAS thread choice: off (no thread control without it)",
                "GEMM update in one BLAS call: off (no cblas_dgemm/cblas_sgemm to call)"]
    lines = [f"NumPy's BLAS: {found.describe()}"]
    if single_max() <= 0:
        lines.append(f"per-call BLAS thread choice: off ({ENV_VAR}=0)")
    else:
        lines.append("per-call BLAS thread choice: on (one thread or the default, measured, "
                     f"for calls whose matmuls are all <= {single_max()} multiply-adds)")
    if gemm.available():
        lines.append("GEMM update in one BLAS call: on (cblas_?gemm with beta = 1)")
    else:
        lines.append(f"GEMM update in one BLAS call: off ({found.kind} at {found.path} "
                     "exports no cblas_dgemm/cblas_sgemm)")
    return lines


def matmul_macs(a_shape: tuple, b_shape: tuple) -> int:
    """Multiply-adds of np.matmul on these shapes (vector cases included)."""
    if not a_shape or not b_shape:
        return 0
    m = a_shape[-2] if len(a_shape) > 1 else 1
    n = b_shape[-1] if len(b_shape) > 1 else 1
    batch = np.broadcast_shapes(a_shape[:-2], b_shape[:-2])
    return int(m * a_shape[-1] * n * math.prod(batch))
