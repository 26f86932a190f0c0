"""`scan` on the GPU: the loop runs on the host, each step launches the body's kernels.

Per call: the sequence slices `xs[t]` are device views (made once per input
buffer and length, then reused), the body block runs on them and the
carries, each `y_t` is copied device-to-device into row t of its stacked
output. Nothing crosses the bus inside the loop (unless the body itself
holds a cond, whose predicate is read each step, or a host fallback).

The body runs in two child memories alternately (step t writes memory
t % 2), so a step never overwrites the carry it reads; a carry the body
passes through unchanged is copied into the step's memory for the same
reason. The gradient of a scan is another scan equation (`scan/grad.py`), so
BPTT runs through this same step.
"""

from __future__ import annotations

from typing import Any

from shared_ops import AbstractArray

from ..scan.op import infer_body_avals, split_operands
from . import arrays
from .step import Step


class ScanStep(Step):
    kind = "scan"

    def __init__(self, eqn: Any, block: Any, index: int) -> None:
        super().__init__(eqn, block, index)
        p = eqn.params
        self.body = block.nested(p["body"], "scan body")
        self.C, self.K, self.reverse = p["num_consts"], p["num_carry"], p["reverse"]
        graph = self.body.graph
        outer = set(graph.inputs) | set(graph.constants)
        self.passthrough = [k for k in range(self.K) if graph.outputs[k] in outer]
        self.last_length = None

    def _slices(self, mem: Any, j: int, arr: Any, length: int) -> list:
        """Views arr[t] for every t, cached while the same buffer comes back."""
        key = ("slices", self.index, j)
        cached = mem.meta.get(key)
        if cached is None or cached[0] is not arr or len(cached[1]) != length:
            views = [arrays.view(arr, lambda a, t=t: a[t, ...]) for t in range(length)]
            cached = mem.meta[key] = (arr, views)
        return cached[1]

    def _stacks(self, mem: Any, length: int, ys: list) -> tuple[list, list]:
        """The stacked outputs (owned by this step) and their row views."""
        stacks, rows = [], []
        for j, y in enumerate(ys):
            shape, dtype = (length,) + tuple(y.shape), y.dtype
            buf = mem.own(("ys", self.index, j), shape, dtype)
            stacks.append(buf)
            rows.append(self._slices(mem, 1000 + j, buf, length))
        return stacks, rows

    def _empty_ys(self, mem: Any, consts: list, carry: list, xs: list) -> list:
        avals = [AbstractArray(tuple(v.shape), v.dtype) for v in consts + carry]
        avals += [AbstractArray(tuple(x.shape[1:]), x.dtype) for x in xs]
        outs = infer_body_avals(self.body.graph, avals)[self.K:]
        return [mem.own(("ys", self.index, j), (0,) + tuple(a.shape), a.dtype)
                for j, a in enumerate(outs)]

    def run(self, env: dict, mem: Any) -> None:
        consts, carry, xs = split_operands(self.values(env), self.C, self.K)
        lengths = {int(x.shape[0]) for x in xs}
        if len(lengths) != 1:
            raise ValueError(f"scan: sequences have different lengths {sorted(lengths)}")
        length = lengths.pop()
        self.last_length = length
        slices = [self._slices(mem, j, x, length) for j, x in enumerate(xs)]
        memories = [mem.child(("scan", self.index, 0)), mem.child(("scan", self.index, 1))]
        inputs = self.body.graph.inputs
        order = range(length - 1, -1, -1) if self.reverse else range(length)
        stacks = rows = None
        for n, t in enumerate(order):
            step_mem = memories[n % 2]
            outs = self.body.run(dict(zip(inputs, consts + carry + [s[t] for s in slices])),
                                 step_mem)
            carry = outs[:self.K]
            for k in self.passthrough:
                dst = step_mem.own(("carry", k), tuple(carry[k].shape), carry[k].dtype)
                arrays.copy_into(dst, carry[k])
                carry[k] = dst
            if stacks is None:
                stacks, rows = self._stacks(mem, length, outs[self.K:])
            for row, y in zip(rows, outs[self.K:]):
                arrays.copy_into(row[t], y)
        if stacks is None:
            stacks = self._empty_ys(mem, consts, carry, xs)
        for var, arr in zip(self.outs[:self.K], carry):
            dst = self.block.out(mem, env, var, tuple(arr.shape))
            arrays.copy_into(dst, arr)
            env[var] = dst
        env.update(zip(self.outs[self.K:], stacks))

    def describe(self) -> list[str]:
        direction = "reverse" if self.reverse else "forward"
        lines = [f"{self.label()}: {direction} loop on the host, {len(self.body.steps)} body "
                 "steps launched per step, no host-device copies inside the loop"]
        return lines + self.body.describe("  ")

    def kernels(self) -> list:
        return self.body.kernels()
