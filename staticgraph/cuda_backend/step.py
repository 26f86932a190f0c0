"""`Step`: one lowered equation of a `Block`, the protocol every step follows.

A step's `run(env, mem)` reads device arrays from `env`, writes its outputs
into `block.out(...)` buffers and stores them in `env`; `describe()` is its
`explain()` text and `kernels()` the generated kernels it launches. A step
that holds a nested graph (cond branches, a scan body) asks its block for a
child block (`block.nested(graph, name)`), so no step module imports the
block module.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shared_ops import AbstractArray, format_site
from shared_ops.errors import GraphCompareError

from ..build.empty_reduction import EmptyAxisGuard
from ..graph.ir import Eqn, Var


def is_device(x: Any) -> bool:
    """Is `x` an array (a device array), not a literal Python or NumPy scalar?"""
    return hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, np.generic)


def with_ellipsis(index: tuple) -> tuple:
    """An index that always yields an array view (0-d included), as NumPy would."""
    return index if any(i is Ellipsis for i in index) else tuple(index) + (Ellipsis,)


class Step:
    """One lowered equation: shapes by the primitive's `abstract_eval`, cached."""

    kind = "step"
    guard: EmptyAxisGuard | None = None  # called with the inputs before `run`

    def __init__(self, eqn: Eqn, block: Any, index: int) -> None:
        self.eqn, self.block, self.index = eqn, block, index
        self.outs = list(eqn.outputs)
        self._shapes: dict[tuple, list] = {}

    def values(self, env: dict) -> list:
        return [env[x] if isinstance(x, Var) else x for x in self.eqn.inputs]

    def out_shapes(self, vals: list, eqn: Eqn | None = None) -> list[tuple]:
        eqn = eqn or self.eqn
        key = tuple((tuple(v.shape), str(v.dtype)) if is_device(v) else (type(v), v)
                    for v in vals)
        shapes = self._shapes.get(key)
        if shapes is None:
            avals = [AbstractArray(tuple(v.shape), np.dtype(v.dtype)) if is_device(v) else v
                     for v in vals]
            try:
                res = eqn.prim.abstract_eval(*avals, **eqn.params)
            except GraphCompareError as exc:  # run-time dims that do not fit: name the line
                site = format_site(eqn.site)
                if not site:
                    raise
                raise type(exc)(f"{exc} (created at {site})") from None
            res = list(res) if eqn.prim.multiple_results else [res]
            shapes = self._shapes[key] = [tuple(a.shape) for a in res]
        return shapes

    def buffers(self, env: dict, mem: Any, shapes: list[tuple]) -> list:
        return [self.block.out(mem, env, v, s) for v, s in zip(self.outs, shapes)]

    def label(self) -> str:
        site = format_site(self.eqn.site)
        return self.eqn.prim.name + (f"  [{site}]" if site else "")

    def describe(self) -> list[str]:
        return [f"{self.label()}: {self.kind}"]

    def kernels(self) -> list:
        return []
