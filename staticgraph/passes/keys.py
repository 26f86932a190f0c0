"""Hashable keys for equation params and whole graphs (used by CSE).

Params may hold Python scalars, tuples, slices, Ellipsis, None, ndarrays
(getitem indices), dtypes, NumPy scalar types, frozen dataclasses (a fused
op's group) and Graphs (cond branches). Two params get equal keys only when
the op computes the same thing with them: scalar keys keep the type and the
sign of zero (`1` vs `1.0` vs `True` differ), arrays key on dtype, shape and
bytes, graphs on their structure. Anything else keys on its identity, which
is always safe (it only misses a merge).
"""

from __future__ import annotations

import dataclasses
import types

import numpy as np

from ..graph.ir import Graph, Var
from .common import scalar_key


def value_key(value) -> tuple:
    """A hashable key equal for values an op cannot tell apart."""
    if value is None or value is Ellipsis:
        return ("const", repr(value))
    if isinstance(value, (bool, int, float, str)):
        return scalar_key(value)
    if isinstance(value, np.generic):
        return ("npscalar", value.dtype.str, value.tobytes())
    if isinstance(value, np.ndarray):
        return array_key(value)
    if isinstance(value, np.dtype):
        return ("dtype", value.str)
    if isinstance(value, type) and issubclass(value, np.generic):
        return ("dtype", np.dtype(value).str)
    if isinstance(value, slice):
        return ("slice", value_key(value.start), value_key(value.stop), value_key(value.step))
    if isinstance(value, (tuple, list)):
        return (type(value).__name__,) + tuple(value_key(v) for v in value)
    if isinstance(value, dict):
        return ("dict",) + tuple(sorted((str(k), value_key(v)) for k, v in value.items()))
    if isinstance(value, Graph):
        return graph_key(value)
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType)):
        return ("fn", id(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return ("dc", type(value).__qualname__) + tuple(
            value_key(getattr(value, f.name)) for f in fields if f.compare)
    return ("id", id(value))


def array_key(value: np.ndarray) -> tuple:
    arr = np.ascontiguousarray(value)  # makes a 0-d array 1-d: key on value's own shape
    return ("array", arr.dtype.str, value.shape, arr.tobytes())


def same_value(a, b) -> bool:
    """Whether two param values mean the same to an op. Never `a == b`: an
    index holding an ndarray compares elementwise, and its truth is ambiguous."""
    return value_key(a) == value_key(b)


def params_key(params: dict) -> tuple:
    """Key of an equation's params (order-independent)."""
    return tuple(sorted((k, value_key(v)) for k, v in params.items()))


def graph_key(graph: Graph) -> tuple:
    """Structural key: equal for graphs that compute the same thing the same way.

    Vars are numbered in definition order; variables key on identity (they
    are state), constants on their values, equations on primitive, inputs and
    params. A Var defined elsewhere (not expected in a closed subgraph) keys
    on its identity.
    """
    number: dict[Var, int] = {}

    def define(v: Var) -> None:
        number[v] = len(number)

    def atom(x) -> tuple:
        if isinstance(x, Var):
            return ("v", number[x]) if x in number else ("free", id(x))
        return scalar_key(x)
    parts: list = []
    for v in graph.inputs:
        define(v)
        parts.append(("in", str(v.aval)))
    for v in graph.variables:
        parts.append(("var", id(v)))
        define(v)
    for v, c in graph.constants.items():
        define(v)
        parts.append(("const", array_key(c)))
    for eqn in graph.eqns:
        parts.append((id(eqn.prim), tuple(atom(x) for x in eqn.inputs),
                      params_key(eqn.params), tuple(str(v.aval) for v in eqn.outputs)))
        for v in eqn.outputs:
            define(v)
    parts.append(("out",) + tuple(atom(v) for v in graph.outputs))
    parts.append(("upd",) + tuple((id(var), atom(val)) for var, val in graph.updates))
    return ("graph",) + tuple(parts)
