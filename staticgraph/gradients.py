"""`sg.gradients`: symbolic reverse mode with the primitives' shared VJP rules.

The rules are written with `shared_ops.api` calls; applied to Symbols they
add gradient equations to the same graph, so the gradient is an ordinary
part of the graph: it can be fetched, rewritten, compiled and differentiated
again (Hessian-vector products). Control-flow primitives (cond, later scan)
register their own rule in `GRAD_RULES`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from shared_ops import AbstractArray, DTypeError, GradientError, Primitive, ShapeError, register
from shared_ops import api as A

from .build.symbol import Operation, Symbol, to_atom
from .errors import GraphError
from .graph.context import graph_scope
from .graph.ir import Eqn, Graph, Var
from .graph.placement import colocate_with

# rule(graph, eqn, cts, needs) -> one cotangent Symbol (or None) per eqn input;
# cts holds one Symbol or None per eqn output.
GRAD_RULES: dict = {}


def _as_list(value, what: str) -> tuple[list, bool]:
    single = not isinstance(value, (list, tuple))
    items = [value] if single else list(value)
    for item in items:
        if not isinstance(item, Symbol):
            kind = "an op" if isinstance(item, Operation) else type(item).__name__
            raise GradientError(f"gradients: {what} must be symbols, got {kind}")
    return items, single


def _ones_like(graph: Graph, y: Symbol) -> Symbol:
    if None in y.shape:
        return A.add(A.zeros_like(y), 1)
    return Symbol(graph, graph.add_constant(np.ones(y.shape, y.dtype)))


def _same_shape_impl(g, y):
    if np.shape(g) != np.shape(y):
        raise ValueError(f"grad_ys has shape {np.shape(g)} at run time, but its ys has "
                         f"shape {np.shape(y)}")
    return g


def _same_shape_eval(g, y):
    shape = tuple(a if a is not None else b for a, b in zip(g.shape, y.shape))
    return AbstractArray(shape, g.dtype)


# A cotangent fed for ys whose dims are known only at run time: checked when it runs.
same_shape = register(Primitive(
    name="same_shape", impl=_same_shape_impl, abstract_eval=_same_shape_eval,
    vjp=lambda ct, out, g, y, *, needs: (ct, None), shape_only=(1,),
    doc="same_shape(g, y): g, after checking at run time that it has y's shape"))


def _seed(graph: Graph, y: Symbol, g) -> Symbol:
    if y.dtype.kind != "f":
        raise DTypeError(f"gradients: ys must be floating point, {y.name} is {y.dtype}")
    if g is None:
        return _ones_like(graph, y)
    if not isinstance(g, Symbol):
        g = Symbol(graph, to_atom(graph, np.asarray(g, dtype=y.dtype)))
    ok = len(g.shape) == len(y.shape) and all(
        a is None or b is None or a == b for a, b in zip(g.shape, y.shape))
    if not ok:
        raise ShapeError(f"gradients: grad_ys shape {g.shape} differs from ys shape {y.shape}")
    if None in g.shape or None in y.shape:
        return same_shape(g, y)
    return g


def gradients(ys, xs, grad_ys=None) -> list:
    """d(sum of ys, weighted by grad_ys)/d(x) for each x; None where unconnected.

    ys, xs: a symbol or a list of symbols of one graph. grad_ys: cotangents
    for ys (ones by default), symbols or arrays. Returns a list like TF.
    """
    ys, _ = _as_list(ys, "ys")
    xs, _ = _as_list(xs, "xs")
    if grad_ys is None:
        grad_ys = [None] * len(ys)
    elif not isinstance(grad_ys, (list, tuple)):
        grad_ys = [grad_ys]
    if len(grad_ys) != len(ys):
        raise GradientError(f"gradients: {len(grad_ys)} grad_ys for {len(ys)} ys")
    graph = ys[0].graph
    for s in ys + xs:
        if s.graph is not graph:
            raise GraphError(f"gradients: {s!r} is from another graph than {ys[0]!r}")
    with graph_scope(graph):
        seeds = [_seed(graph, y, g) for y, g in zip(ys, grad_ys)]
        cts = backward_pass(graph, [y.var for y in ys], seeds, {x.var for x in xs})
    return [cts.get(x.var) for x in xs]


def _depends_on(eqns: list[Eqn], xs: set) -> set:
    """Vars reachable from xs through differentiable equations."""
    dep = set(xs)
    for eqn in eqns:
        if eqn.prim.differentiable and any(v in dep for v in eqn.in_vars):
            dep.update(eqn.outputs)
    return dep


def backward_pass(graph: Graph, ys: list[Var], seeds: list[Symbol], xs: set) -> dict:
    """Cotangent Symbols of every Var on a path from xs to ys (graph is default)."""
    eqns = list(graph.eqns)
    dep = _depends_on(eqns, xs)
    cts: dict[Var, Symbol] = {}
    for y, seed in zip(ys, seeds):
        if y in dep:
            _accumulate(cts, y, seed)
    for eqn in reversed(eqns):
        if not eqn.prim.differentiable or not any(o in cts for o in eqn.outputs):
            continue
        needs = tuple(isinstance(v, Var) and v in dep and v.aval.dtype.kind == "f"
                      for v in eqn.inputs)
        if not any(needs):
            continue
        out_cts = [cts.get(o) for o in eqn.outputs]
        rule: Callable = GRAD_RULES.get(eqn.prim, _vjp_rule)
        with colocate_with(eqn.device):
            in_cts = rule(graph, eqn, out_cts, needs)
        for v, g, need in zip(eqn.inputs, in_cts, needs):
            if need and g is not None:
                _accumulate(cts, v, g)
    return {v: g for v, g in cts.items() if v in xs}


def _vjp_rule(graph: Graph, eqn: Eqn, cts: list, needs: tuple) -> tuple:
    """A shared_ops primitive: call its VJP rule on symbols."""
    if eqn.prim.vjp is None:
        raise GradientError(f"gradients: op '{eqn.prim.name}' has no gradient rule")
    args = [Symbol(graph, v) if isinstance(v, Var) else v for v in eqn.inputs]
    out = Symbol(graph, eqn.outputs[0])
    return eqn.prim.vjp(cts[0], out, *args, needs=needs, **eqn.params)


def _accumulate(cts: dict, v: Var, g) -> None:
    if not isinstance(g, Symbol):
        raise GradientError(f"gradients: a rule returned {type(g).__name__} for {v.label}")
    if g.dtype != v.aval.dtype and g.dtype.kind == "f":
        g = A.cast(g, v.aval.dtype)
    cts[v] = g if v not in cts else A.add(cts[v], g)

