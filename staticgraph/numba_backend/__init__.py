"""The "numba" backend: optimised programs lowered to generated Python orchestrators
that call cached fused kernels, BLAS and NumPy views into buffers planned once.

    f = sg.function([x, y], loss, updates=..., backend="numba")
    f(x_value, y_value)
    print(f.source)        # the generated orchestrator, commented with the user's lines
    f.explain()            # passes, fused groups, memory plan, compile costs, source

Pipeline (docs/compiler.md, section "Lowering"): `optimize` (passes) ->
`plan_memory` -> one generated Python function per graph (`lower.py`,
`eqn_lowering.py`, `kernels.py`) -> per set of run-time dims, buffers allocated
once (`prepare.py`) -> steady-state calls that allocate nothing.

Extension points:
- `register_lowering(prim, fn)` (`hooks.py`): lower an opaque primitive
  to a Python callable (`scan` is built in: one compiled loop);
- `NumbaRunner(program, target=...)` / `Compilation(target=...)`: the kernel
  target (`staticgraph.compiler.Target`); everything else is target-neutral.
"""

from __future__ import annotations

from ..graph.ir import Graph
from .hooks import LOWERINGS, LoweringContext, register_lowering, unregister_lowering
from .program import Compilation, LoweredGraph, kernel_cache
from .runner import NumbaRunner
from .runtime import recycled


def numba_backend(program: Graph, *, check_numerics: bool = False) -> NumbaRunner:
    """The backend factory registered as "numba" (see staticgraph.runtime.backends)."""
    return NumbaRunner(program, check_numerics=check_numerics)


__all__ = [
    "LOWERINGS", "Compilation", "LoweredGraph", "LoweringContext", "NumbaRunner",
    "kernel_cache", "numba_backend", "recycled", "register_lowering", "unregister_lowering",
]

