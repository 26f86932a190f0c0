"""`--threads N`: pin every math library's thread pool to N threads.

By default each library keeps its own default (usually one thread per
core). On a shared 2-core machine, a multi-threaded BLAS call whose threads
get descheduled by someone else's load can take ten times longer, so
`--threads 1` gives steadier ratios for comparisons that do not depend on
parallelism. Environment variables only work before a library is imported,
so `pin` runs first in `python -m benchmarks`; for libraries already loaded
it also uses their runtime knobs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from . import peers

POOL_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
_STATE: dict[str, object] = {}


def _xla_flags(n: int) -> str:
    eigen = "false" if n == 1 else "true"
    extra = f"--xla_cpu_multi_thread_eigen={eigen} intra_op_parallelism_threads={n}"
    return f"{os.environ.get('XLA_FLAGS', '')} {extra}".strip()


def _limit_loaded(n: int) -> None:
    """Runtime limits for pools that were loaded before `pin` ran."""
    from staticgraph.runtime.blas_libraries import hold_threads
    _STATE["limits"] = hold_threads(n)  # keep it referenced: the limit holds
    numba = sys.modules.get("numba")
    if numba is not None:
        try:
            numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
        except Exception:  # numba without a threading layer yet
            pass


def pin(n: int) -> None:
    """Limit NumPy's BLAS, OpenMP, MKL, Numba, PyTorch and XLA to n threads."""
    if n < 1:
        raise ValueError("--threads must be >= 1")
    for var in POOL_VARS:
        os.environ[var] = str(n)
    if "jax" not in sys.modules:
        os.environ["XLA_FLAGS"] = _xla_flags(n)
    _limit_loaded(n)
    peers.set_torch_threads(n)
    _STATE["threads"] = n


def describe() -> str:
    """For the machine line: how many threads the math libraries were given."""
    n = _STATE.get("threads")
    return "library defaults" if n is None else f"pinned to {n} (--threads {n})"


@contextmanager
def limited(n: int) -> Iterator[bool]:
    """Run a block with NumPy's BLAS, OpenMP and PyTorch at n threads.

    Yields True: the pools are limited (`staticgraph.runtime.blas_libraries`). XLA's
    pool is fixed when JAX is imported, so JAX is not limited: leave it out of
    workloads measured this way.
    """
    from staticgraph.runtime.blas_libraries import limit_threads
    torch = peers.load_torch()
    before = torch.get_num_threads() if torch is not None else None
    try:
        with limit_threads(n):
            if torch is not None:
                torch.set_num_threads(n)
            yield True
    finally:
        if torch is not None and before is not None:
            torch.set_num_threads(before)
