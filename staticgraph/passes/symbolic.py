"""Symbolic shapes: every run-time dim (`None`) as a named symbol.

Memory planning needs buffer sizes before the program runs: `[?, 100]` and
`[?, 10]` fit in one buffer only if both `?` are the same quantity. Each
`None` dim of an input, variable or constant gets a symbol (`x.0`: dim 0 of
`x`); equations propagate them (elementwise ops and matmul also *unify*
symbols that must be equal, under the project's convention that a run-time
dim is never broadcast). A dim is a `Monomial` `coef * sym1 * sym2 ...`; a
dim no rule can express gets a fresh symbol with no origin (known only once
the value exists: "dynamic").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from shared_ops import Primitive, by_primitive

from ..graph.ir import Eqn, Graph, Var


@dataclass(frozen=True)
class Monomial:
    """coef * product(syms): a dim or a size in elements."""

    coef: int
    syms: tuple[str, ...] = ()

    def __mul__(self, other: Monomial) -> Monomial:
        return Monomial(self.coef * other.coef, tuple(sorted(self.syms + other.syms)))

    def evaluate(self, dims: dict[str, int]) -> int:
        return self.coef * math.prod(dims[s] for s in self.syms)

    def __str__(self) -> str:
        parts = ([str(self.coef)] if self.coef != 1 or not self.syms else []) + list(self.syms)
        return "*".join(parts)


def product(dims) -> Monomial:
    out = Monomial(1)
    for d in dims:
        out = out * d
    return out


class ShapeInference:
    """Symbols for one graph: `shapes[var]`, `origins[sym]`, unification."""

    def __init__(self) -> None:
        self.shapes: dict[Var, tuple[Monomial, ...]] = {}
        self.origins: dict[str, list[tuple[Var, int]]] = {}
        self.parent: dict[str, str] = {}
        self.count = 0

    def fresh(self, hint: str) -> Monomial:
        self.count += 1
        name = f"{hint}#{self.count}"
        self.parent[name] = name
        return Monomial(1, (name,))

    def bind_external(self, v: Var) -> None:
        dims = []
        for axis, d in enumerate(v.shape):
            if d is None:
                name = f"{v.label}.{axis}"
                self.parent.setdefault(name, name)
                self.origins.setdefault(name, []).append((v, axis))
                dims.append(Monomial(1, (name,)))
            else:
                dims.append(Monomial(d))
        self.shapes[v] = tuple(dims)

    def find(self, s: str) -> str:
        while self.parent[s] != s:
            self.parent[s] = self.parent[self.parent[s]]
            s = self.parent[s]
        return s

    def unify(self, a: Monomial, b: Monomial) -> None:
        if a.coef == b.coef == 1 and len(a.syms) == len(b.syms) == 1:
            ra, rb = self.find(a.syms[0]), self.find(b.syms[0])
            if ra != rb:
                keep, drop = sorted((ra, rb), key=lambda s: ("#" in s, s))
                self.parent[drop] = keep

    def canonical(self, m: Monomial) -> Monomial:
        return Monomial(m.coef, tuple(sorted(self.find(s) for s in m.syms)))

    def shape(self, v: Var) -> tuple[Monomial, ...]:
        return tuple(self.canonical(d) for d in self.shapes[v])

    def dims_of(self, x) -> tuple[Monomial, ...]:
        if isinstance(x, Var):
            return self.shapes[x]
        return ()


def _static_or(out: Var, dims: list[Monomial | None], inf: ShapeInference) -> tuple:
    """Static dims where known; the inferred dim or a fresh symbol elsewhere."""
    result = []
    for axis, d in enumerate(out.shape):
        if d is not None:
            result.append(Monomial(d))
        else:
            found = dims[axis] if axis < len(dims) else None
            result.append(found if found is not None and found.syms else
                          inf.fresh(f"{out.label}.{axis}"))
    return tuple(result)


def _broadcast(n: int, shapes: list[tuple], inf: ShapeInference) -> list:
    """Aligned dims of `shapes` broadcast to rank `n` (unifying symbolic ones)."""
    dims: list[Monomial | None] = []
    for axis in range(n):
        cands = [s[axis - n + len(s)] for s in shapes if axis - n + len(s) >= 0]
        symbolic = [c for c in cands if c.syms]
        for c in symbolic[1:]:
            inf.unify(symbolic[0], c)
        dims.append(symbolic[0] if symbolic else None)
    return dims


def _matmul(eqn: Eqn, inf: ShapeInference) -> list:
    a, b = (inf.dims_of(x) for x in eqn.inputs)
    if len(a) < 2 or len(b) < 2:
        return []
    if a[-1].syms and b[-2].syms:
        inf.unify(a[-1], b[-2])
    batch = _broadcast(len(eqn.outputs[0].shape) - 2, [a[:-2], b[:-2]], inf)
    return batch + [a[-2], b[-1]]


def _reshape(eqn: Eqn, inf: ShapeInference) -> list:
    total = product(inf.dims_of(eqn.inputs[0]))
    shape = eqn.params["shape"]
    known = math.prod(d for d in shape if d != -1)
    if -1 not in shape or known == 0 or total.coef % known:
        return []
    return [Monomial(total.coef // known, total.syms) if d == -1 else Monomial(d)
            for d in shape]


def _reduce(eqn: Eqn, inf: ShapeInference) -> list:
    x = inf.dims_of(eqn.inputs[0])
    axes = eqn.params.get("axis")
    axes = range(len(x)) if axes is None else axes
    if eqn.params.get("keepdims"):
        return [Monomial(1) if i in axes else d for i, d in enumerate(x)]
    return [d for i, d in enumerate(x) if i not in axes]


def _expand_dims(eqn: Eqn, inf: ShapeInference) -> list:
    dims = list(inf.dims_of(eqn.inputs[0]))
    for a in eqn.params["axis"]:
        dims.insert(a, Monomial(1))
    return dims


DIM_RULES: dict[Primitive, Callable[[Eqn, ShapeInference], list]] = by_primitive({
    "matmul": _matmul, "reshape": _reshape, "sum": _reduce, "mean": _reduce, "max": _reduce,
    "expand_dims": _expand_dims,
    "transpose": lambda e, inf: [inf.dims_of(e.inputs[0])[a] for a in e.params["axes"]],
    "squeeze": lambda e, inf: [d for i, d in enumerate(inf.dims_of(e.inputs[0]))
                               if i not in e.params["axis"]],
    "softmax": lambda e, inf: list(inf.dims_of(e.inputs[0])),
    "log_softmax": lambda e, inf: list(inf.dims_of(e.inputs[0])),
    "reshape_like": lambda e, inf: list(inf.dims_of(e.inputs[1])),
    "getitem_grad": lambda e, inf: list(inf.dims_of(e.inputs[1])),
})
"""How each non-elementwise primitive's output dims follow from its inputs'."""


def _fused(eqn: Eqn, inf: ShapeInference) -> list[tuple]:
    body = eqn.params["body"]
    for outer, inner in zip(eqn.inputs, body.inputs):
        inf.shapes[inner] = inf.shapes[outer]
    for sub in body.eqns:
        infer_eqn(sub, inf)
    return [inf.shapes[v] for v in body.outputs]


def infer_eqn(eqn: Eqn, inf: ShapeInference) -> None:
    """Set `inf.shapes` for `eqn`'s outputs."""
    if eqn.prim.fused:
        for v, dims in zip(eqn.outputs, _fused(eqn, inf)):
            inf.shapes[v] = _static_or(v, list(dims), inf)
        return
    rule = DIM_RULES.get(eqn.prim)
    for v in eqn.outputs:
        if eqn.prim.elementwise:
            dims = _broadcast(len(v.shape), [inf.dims_of(x) for x in eqn.inputs], inf)
        elif rule is not None and len(eqn.outputs) == 1:
            dims = rule(eqn, inf)
            dims = dims if len(dims) == len(v.shape) else []
        else:
            dims = []
        inf.shapes[v] = _static_or(v, dims, inf)


def infer_shapes(graph: Graph) -> ShapeInference:
    """Symbolic shapes of every value of `graph` (not inside subgraphs)."""
    inf = ShapeInference()
    for v in list(graph.inputs) + list(graph.variables) + list(graph.constants):
        inf.bind_external(v)
    for eqn in graph.eqns:
        infer_eqn(eqn, inf)
    return inf


def size_of(inf: ShapeInference, v: Var) -> Monomial:
    """Elements of `v` as a monomial in canonical symbols."""
    return inf.canonical(product(inf.shape(v)))


def bind_symbols(inf: ShapeInference, env: dict) -> dict[str, int]:
    """Values of the canonical symbols that come from inputs in `env`."""
    dims: dict[str, int] = {}
    for name, places in inf.origins.items():
        for v, axis in places:
            if v in env:
                dims.setdefault(inf.find(name), int(np.shape(env[v])[axis]))
    return dims
