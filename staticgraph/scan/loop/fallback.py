"""The fallback for a scan whose body cannot be compiled into one loop.

A body holding an op with no compiled form in the loop (`softmax`, a
`cond`, an advanced index...) runs as a Python loop over the *lowered* body:
its fused groups still run as compiled kernels and its nested scans are
lowered on their own (compiled when they can be); every other op runs its
NumPy `impl`. With a backend context (`ctx.lower`, the numba backend's own
orchestrator for a closed graph) the body is compiled by that backend
instead. Same semantics as the interpreter: `op.scan_eval_with`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...compiler import compile_group
from ...compiler.kernel import pattern_shape
from ...graph.ir import Eqn, Graph
from ...passes.fused_op import fused_p
from ...runtime.interpreter import Evaluator
from ..op import scan_eval_with, scan_p


class LoweredBodyEvaluator(Evaluator):
    """The interpreter, with fused groups run by their compiled kernels and
    nested scans by their own lowering (`lower(eqn)`)."""

    def __init__(self, lower_scan) -> None:
        super().__init__(check_numerics=False, check_shapes=False)
        self._lower_scan = lower_scan
        self._scans: dict[int, Any] = {}

    def apply(self, eqn: Eqn, vals: list) -> list:
        if eqn.prim is fused_p:
            return self._fused(eqn, vals)
        if eqn.prim is scan_p:
            fn = self._scans.get(id(eqn))
            if fn is None:
                fn = self._scans[id(eqn)] = self._lower_scan(eqn)
            return list(fn(*vals))
        return super().apply(eqn, vals)

    @staticmethod
    def _fused(eqn: Eqn, vals: list) -> list:
        group = eqn.params["group"]
        kernel = compile_group(group)
        vals = [np.asarray(v) for v in vals]
        loop = kernel.loop_shape(tuple(vals))
        outs = [np.empty(pattern_shape(*group.step_pattern(k), loop), group.step_dtype(k))
                for k in group.outputs]
        if group.reduction is not None:
            outs.append(np.empty(group.reduction_shape(loop), group.reduction_dtype()))
        kernel(*vals, out=outs)
        return outs


class FallbackScan:
    """A scan run as a Python loop over its lowered body (see the module doc)."""

    compiled = False

    def __init__(self, eqn: Eqn, body: Graph, reason: str, lower_scan,
                 lower_graph=None) -> None:
        self.eqn, self.body, self.reason = eqn, body, reason
        self.params = {**eqn.params, "body": body}
        if lower_graph is not None:
            fn = lower_graph(body)
            self._run = lambda graph, args: list(fn(*args))
            self.how = "the numba backend's orchestrator for the body"
        else:
            self._run = LoweredBodyEvaluator(lower_scan).run
            self.how = "fused kernels and NumPy impls"

    def __call__(self, *values) -> tuple:
        return scan_eval_with(self._run, *values, **self.params)

    def explain(self) -> str:
        return (f"scan {self.body.name}: Python loop over the body, one call per step "
                f"({self.how}); not compiled into one loop because {self.reason}")
