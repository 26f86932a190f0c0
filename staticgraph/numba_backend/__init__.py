"""The "numba" backend: optimised programs lowered to generated Python orchestrators
that call cached fused kernels, BLAS and NumPy views into buffers planned once.

    f = sg.function([x, y], loss, updates=..., backend="numba")
    f(x_value, y_value)
    print(f.source)        # the generated orchestrator, commented with the user's lines
    f.explain()            # passes, fused groups, memory plan, compile costs, source

Pipeline (docs/compiler.md, section "Lowering"): `optimize` (passes) ->
`plan_memory` -> one generated Python function per graph (`lower.py`,
`rules.py`, `kernels.py`) -> per set of run-time dims, buffers allocated
once (`prepare.py`) -> steady-state calls that allocate nothing.

Extension points:
- `register_lowering(prim, fn)` (`hooks.py`): lower an opaque primitive
  (scan's native loop) to a Python callable;
- `NumbaRunner(program, target=...)` / `Compilation(target=...)`: the kernel
  target (`staticgraph.compiler.Target`); everything else is target-neutral.
"""

from __future__ import annotations

from ..ir import Graph
from .hooks import LOWERINGS, LoweringContext, register_lowering, unregister_lowering
from .program import Compilation, LoweredGraph, kernel_cache
from .runner import NumbaRunner
from .runtime import recycled


def numba_backend(program: Graph, *, check_numerics: bool = False) -> NumbaRunner:
    """The backend factory registered as "numba" (see staticgraph.backends)."""
    return NumbaRunner(program, check_numerics=check_numerics)


__all__ = [
    "LOWERINGS", "Compilation", "LoweredGraph", "LoweringContext", "NumbaRunner",
    "kernel_cache", "numba_backend", "recycled", "register_lowering", "unregister_lowering",
]


def _register_scan_lowering() -> None:
    """scan's compiled loop (staticgraph/scan_lowering.py, `lower_scan`) hooks in here.

    Note from scan_lowering: running `scan_lowering.SCAN_PASSES` before
    DEFAULT_PASSES (on the whole program) lets a gradient's backward scan read
    the forward scan's outputs instead of recomputing them (one GEMM per step
    less in BPTT) and merges the two input projections; the hook sees one
    equation at a time and cannot do either.
    """
    from .. import scan_lowering
    scan_lowering.register()


_register_scan_lowering()
