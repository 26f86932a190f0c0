"""How the numba backend (and tests) run a scan equation: `lower_scan`.

The numba backend calls `lower_scan(eqn, ctx)` for every scan equation it
meets (registered with `staticgraph.numba_backend.register_lowering`). By
then the backend's passes have fused the scan's body, so `LoweredScan`:

1. puts the equation alone in a small graph and undoes the fusion
   (`inline_fused`), so the scan passes see plain ops;
2. runs `SCAN_PASSES` and the ordinary passes on it: loop-invariant and
   per-step-independent matmuls move out of the loop, accumulators after it;
3. if only the scan is left, compiles its loop (`lower_one`) and calls it
   directly; otherwise hands the small graph to the backend's own lowering
   (`ctx.lower`: planned buffers, fused kernels, BLAS), which calls back
   here for the scan inside it (then step 3's direct case).

The scan passes also run on whole programs (`SCAN_PASSES`, before fusion):
there a backward scan can reuse the forward scan's outputs and both input
projections merge, which one equation alone cannot see.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from .compiler import CpuTarget, compile_group
from .interpreter import InterpretRunner
from .ir import Eqn, Graph
from .passes import DEFAULT_PASSES, optimize
from .passes.common import fresh_copy
from .scan_lowering_fallback import LoweredBodyEvaluator
from .scan_lowering_hoist import inline_fused

_DEPTH = [0]  # > 0 while the backend lowers a graph LoweredScan handed it


def _mini_graph(eqn: Eqn) -> Graph:
    """A closed graph holding just `eqn` (fresh inputs, one per operand)."""
    g = Graph("scan")
    g.inputs = [fresh_copy(v) for v in eqn.inputs]
    g.eqns = [eqn.replace(inputs=tuple(g.inputs))]
    g.outputs = list(eqn.outputs)
    return g


def _single_scan(graph: Graph) -> Eqn | None:
    return graph.eqns[0] if len(graph.eqns) == 1 and graph.eqns[0].prim.name == "scan" \
        else None


class LoweredScan:
    """One scan equation, lowered for the numba backend (see the module doc)."""

    def __init__(self, eqn: Eqn, ctx: Any = None) -> None:
        from .scan_lowering import SCAN_PASSES, lower_one
        start = time.perf_counter()
        self.eqn, self.loops = eqn, []
        kernel_fn = ctx.compile_group if ctx is not None else compile_group
        lower = functools.partial(lower_one, kernel_fn=kernel_fn,
                                  lower_graph=ctx.lower if ctx is not None else None)
        graph = _mini_graph(eqn)
        if not _DEPTH[0]:
            passes = (("unfuse", inline_fused),) + SCAN_PASSES + DEFAULT_PASSES
            graph, self.report = optimize(graph, passes)
        self.graph = graph
        single = _single_scan(graph)
        if single is not None:
            self.loops.append(lower(single))
            self._args = [graph.inputs.index(x) for x in single.inputs]
            self._outs = [single.outputs.index(v) for v in graph.outputs]
            self._run = self._direct
        elif ctx is not None:
            _DEPTH[0] += 1
            try:
                self._fn = ctx.lower(graph)
            finally:
                _DEPTH[0] -= 1
            self._run = lambda values: tuple(self._fn(*values))
        else:
            self.evaluator = LoweredBodyEvaluator(lower)
            for e in graph.eqns:
                if e.prim.name == "scan":
                    self.evaluator._scans[id(e)] = loop = lower(e)
                    self.loops.append(loop)
            self._run = self._evaluate
        self.seconds = time.perf_counter() - start
        self.source = "\n\n".join(getattr(loop, "source", "") for loop in self.loops)

    def _direct(self, values) -> tuple:
        outs = self.loops[0](*[values[i] for i in self._args])
        return tuple(outs[i] for i in self._outs)

    def _evaluate(self, values) -> tuple:
        g = self.graph
        outs = self.evaluator.eval(g, dict(zip(g.inputs, values)), g.outputs)
        ids = {id(v) for v in values}
        return tuple(o.copy() if id(o) in ids else o for o in outs)

    def __call__(self, *values) -> tuple:
        return self._run(values)

    def explain(self) -> str:
        from .scan_lowering import _at
        others = [e.prim.name for e in self.graph.eqns if e.prim.name != "scan"]
        lines = [f"scan{_at(self.eqn)}: lowered in {self.seconds:.2f} s"]
        if others:
            lines.append(f"  moved out of the loop: {', '.join(others)}")
        lines += ["  " + loop.explain().replace("\n", "\n  ") for loop in self.loops]
        return "\n".join(lines)


def lower_scan(eqn: Eqn, ctx: Any = None) -> LoweredScan | None:
    """The numba backend's lowering of a scan eqn (`register_lowering(scan_p, ...)`).

    Declines (None) under check_numerics (the backend's fallback then runs
    the reference loop, which names the op that produced a NaN) and for a
    target other than the CPU (the loop is CPU code calling CPU kernels).
    """
    if ctx is not None and getattr(ctx, "check_numerics", False):
        return None
    target = getattr(ctx, "target", None)
    if target is not None and not isinstance(target, CpuTarget):
        return None
    lowered = LoweredScan(eqn, ctx)
    if ctx is not None:
        ctx.record("scan lowering", lowered.seconds)
        for line in lowered.explain().splitlines():
            ctx.note(line)
    return lowered


def register() -> bool:
    """Register `lower_scan` with the numba backend, if it is there."""
    try:
        from .numba_backend import register_lowering
    except ImportError:
        return False
    from .scan import scan_p
    register_lowering(scan_p, lower_scan)
    return True


class ScanRunner(InterpretRunner):
    """A program run by the interpreter, except that every scan is lowered
    (`lower_one`) after the scan passes and the ordinary ones. A backend
    factory (`register_backend("interpret-scan", ScanRunner)`) for tests and
    benchmarks of the loops alone; the numba backend runs everything else
    compiled too."""

    def __init__(self, program: Graph, check_numerics: bool = False) -> None:
        from .scan_lowering import SCAN_PASSES, lower_one
        optimized, self.report = optimize(program, SCAN_PASSES + DEFAULT_PASSES)
        super().__init__(optimized, check_numerics)
        self.evaluator = LoweredBodyEvaluator(lower_one)
        for e in optimized.eqns:
            if e.prim.name == "scan":
                self.evaluator._scans[id(e)] = lower_one(e)

    def explain(self) -> str:
        loops = [fn.explain() for fn in self.evaluator._scans.values()]
        return "backend: interpret, scans compiled\n" + self.report.describe() + "\n" + \
            "\n".join(loops)
