"""The numba backend's lowering entry for a scan equation: `lower_scan(eqn, ctx)`.

The backend's pipeline has run the scan passes and fusion once, on the whole
program and the scan bodies in it, before lowering; so the equation's body is
optimised already and `lower_scan` only lowers it: one compiled loop
(`lower_one`) whose fused groups are the backend's kernels
(`ctx.compile_group`), or, for a body the loop cannot express, a Python loop
over the backend's own orchestrator for the body (`ctx.lower`).
"""

from __future__ import annotations

import time
from typing import Any

from ...compiler import CpuTarget
from ...graph.ir import Eqn
from .compiled import CompiledScan, created_at, lower_one
from .fallback import FallbackScan
from .moves import MovesScan


def lower_scan(eqn: Eqn, ctx: Any) -> CompiledScan | MovesScan | FallbackScan | None:
    """The lowering of a scan eqn: a callable `(*operands) -> (*final_carry, *ys)`.

    `ctx` is the backend's `LoweringContext`. Declines (None) under
    check_numerics (the backend's fallback then runs the reference loop,
    which names the op that produced a NaN) and for a target other than the
    CPU (the loop is CPU code calling CPU kernels).
    """
    if ctx.check_numerics or not isinstance(ctx.target, CpuTarget):
        return None
    start = time.perf_counter()
    loop = lower_one(eqn, kernel_fn=ctx.compile_group, lower_graph=ctx.lower)
    seconds = time.perf_counter() - start
    ctx.record("scan lowering", seconds)
    ctx.note(f"scan{created_at(eqn)}: lowered in {seconds:.2f} s")
    for line in loop.explain().splitlines():
        ctx.note("  " + line)
    return loop
