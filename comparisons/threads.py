"""One thread for every BLAS/OpenMP pool while comparing, in the CLI and the API.

Every engine's matmuls are NumPy's BLAS: one thread keeps the comparison
about the engines (the peers run on one thread too) and steady on a shared
machine, where spinning BLAS/OpenMP workers made steps up to 100x slower.
`pin_environment()` sets the variables the libraries read when they load
(values already in the environment win); `pinned()` also limits the pools of
libraries already loaded, for the duration of a block.

`pinned()` also switches tiered sessions off (`GRAPHCOMPARE_TIERED=0`) unless
the environment says otherwise: a "staticgraph-numba" row times the compiled
code, its compile counted in its setup; the rows named "-tiered" opt in.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

ENVIRONMENT = (("OPENBLAS_NUM_THREADS", "1"), ("MKL_NUM_THREADS", "1"),
               ("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                             "intra_op_parallelism_threads=1"))


def pin_environment() -> None:
    """Set the thread variables not already set (read by libraries when they load)."""
    for name, value in ENVIRONMENT:
        os.environ.setdefault(name, value)


@contextmanager
def pinned() -> Iterator[None]:
    """BLAS and OpenMP pools of loaded libraries limited to one thread in the block."""
    from staticgraph.runtime.blas_libraries import limit_threads
    pin_environment()
    before = os.environ.get("GRAPHCOMPARE_TIERED")
    os.environ.setdefault("GRAPHCOMPARE_TIERED", "0")
    try:
        with limit_threads(1):
            yield
    finally:
        if before is None:
            os.environ.pop("GRAPHCOMPARE_TIERED", None)
