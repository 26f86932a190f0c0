"""Helpers every pass shares: aliasing values, rebuilding graphs, recursing
into subgraphs, counting nodes, and keys for literals.

A pass never mutates its input: it starts from `graph.copy()` (new
containers, the same immutable Vars and Eqns), builds a new equation list,
and resolves the graph's outputs and updates through an alias map when it
replaced a value by another one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from shared_ops import AbstractArray, Effect

from ..graph.ir import Eqn, Graph, Var

GraphPass = Callable[[Graph], Graph]


def resolve(alias: dict, x):
    """Follow `alias` (Var -> Var) from `x` to the value that replaces it."""
    while isinstance(x, Var) and x in alias:
        x = alias[x]
    return x


def substitute(eqn: Eqn, alias: dict) -> Eqn:
    """`eqn` reading the replacements of its aliased inputs (itself if none)."""
    if not alias:
        return eqn
    inputs = tuple(resolve(alias, x) for x in eqn.inputs)
    if all(a is b for a, b in zip(inputs, eqn.inputs)):
        return eqn
    return eqn.replace(inputs=inputs)


def finish(graph: Graph, alias: dict) -> Graph:
    """Resolve `graph`'s outputs and update values through `alias` (in place)."""
    if alias:
        graph.outputs = [resolve(alias, v) for v in graph.outputs]
        graph.updates = [(var, resolve(alias, value)) for var, value in graph.updates]
    return graph


def is_fused(eqn: Eqn) -> bool:
    return eqn.prim.fused


def is_effect(eqn: Eqn) -> bool:
    """Whether the op writes state or orders others (never removed, moved or merged)."""
    return eqn.prim.effect is Effect.STATE


def is_control(eqn: Eqn) -> bool:
    """Control flow, fused ops, anything the interpreter runs specially."""
    prim = eqn.prim
    return bool(prim.control or prim.eval_with is not None or prim.fused or eqn.subgraphs())


def map_subgraphs(eqn: Eqn, fn: GraphPass) -> Eqn:
    """`eqn` with every Graph in its params replaced by `fn(graph)`.

    Fused equations are left alone: their body is the fusion's own record.
    """
    if is_fused(eqn) or not eqn.subgraphs():
        return eqn
    params = {}
    for key, value in eqn.params.items():
        if isinstance(value, Graph):
            value = fn(value)
        elif isinstance(value, (tuple, list)) and any(isinstance(v, Graph) for v in value):
            value = type(value)(fn(v) if isinstance(v, Graph) else v for v in value)
        params[key] = value
    return eqn.replace(params=params)


def count_eqns(graph: Graph) -> int:
    """Equations here and in control-flow subgraphs (a fused op counts once)."""
    total = 0
    for eqn in graph.eqns:
        total += 1
        if not is_fused(eqn):
            total += sum(count_eqns(sub) for sub in eqn.subgraphs())
    return total


def scalar_key(x) -> tuple:
    """A key for a Python scalar that keeps its type and the sign of zero."""
    if isinstance(x, float):
        return ("float", x.hex())
    return (type(x).__name__, x)


def literal_value(x, constants: dict):
    """The ndarray or Python scalar `x` stands for when it is known now, else None."""
    if isinstance(x, Var):
        return constants.get(x)
    return x


def all_equal_to(value, target: float) -> bool:
    """True when `value` (scalar or array) is non-empty and every element == target."""
    if value is None or isinstance(value, (str, bytes)):
        return False
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf" or arr.size == 0:
        return False
    return bool(np.all(arr == target))


def same_aval(a: AbstractArray, b: AbstractArray) -> bool:
    """Identical static shape (None matches only None) and dtype."""
    return tuple(a.shape) == tuple(b.shape) and np.dtype(a.dtype) == np.dtype(b.dtype)


def fresh_copy(var: Var) -> Var:
    """A new Var with `var`'s aval, name and site (for a subgraph's own inputs)."""
    return Var(var.aval, var.name, var.site)
