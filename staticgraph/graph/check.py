"""`check_graph`: the validator every pass runs on the graph it returns.

It checks SSA (each Var defined once, before use), that every equation's
outputs still agree with its primitive's `abstract_eval`, that constants and
variable initial values match their avals, that outputs and updates refer to
defined values, and recurses into subgraphs. Problems raise
`InvalidGraphError` naming the equation and the user line it came from.
"""

from __future__ import annotations

import numpy as np

from shared_ops import AbstractArray, Primitive, format_site
from shared_ops.errors import GraphCompareError
from shared_ops.shapes import SCALAR_TYPES

from ..errors import InvalidGraphError
from .ir import Eqn, Graph, Var


def compatible(a: AbstractArray, b: AbstractArray) -> bool:
    """Same dtype and rank; dims equal where both are known."""
    return np.dtype(a.dtype) == np.dtype(b.dtype) and len(a.shape) == len(b.shape) and all(
        x is None or y is None or x == y for x, y in zip(a.shape, b.shape))


def _fail(graph: Graph, message: str, eqn: Eqn | None = None, index: int | None = None):
    where = ""
    if eqn is not None:
        site = format_site(eqn.site)
        where = f" eqn #{index} '{eqn.prim.name}'" + (f" (created at {site})" if site else "")
    raise InvalidGraphError(f"check_graph: {graph!r}{where}: {message}")


def _check_array(graph: Graph, v: Var, value, what: str) -> None:
    if not isinstance(value, np.ndarray):
        _fail(graph, f"{what} {v!r} holds {type(value).__name__}, not an ndarray")
    if value.shape != tuple(v.aval.shape) or value.dtype != v.aval.dtype:
        _fail(graph, f"{what} {v!r} holds {value.dtype.name}{list(value.shape)}")


def _signature(eqn: Eqn) -> tuple:
    """What an equation's abstract_eval check depends on besides the equation
    itself: its input and output Vars with their avals, and its literals' types."""
    ins = tuple((x, x.aval) if isinstance(x, Var) else (type(x), x) for x in eqn.inputs)
    return ins + tuple((v, v.aval) if isinstance(v, Var) else (None, v) for v in eqn.outputs)


def _check_eqn(graph: Graph, eqn: Eqn, index: int, defined: set, verified: dict | None) -> None:
    if not isinstance(eqn, Eqn) or not isinstance(eqn.prim, Primitive):
        _fail(graph, f"item #{index} is not an equation of a primitive: {eqn!r}")
    for x in eqn.inputs:
        if isinstance(x, Var):
            if x not in defined:
                _fail(graph, f"input {x!r} is used before it is defined", eqn, index)
        elif not isinstance(x, SCALAR_TYPES):
            _fail(graph, f"input {x!r} is neither a Var nor a Python scalar", eqn, index)
    for sub in eqn.subgraphs():
        check_graph(sub, verified)
    if verified is not None:
        seen = verified.get(id(eqn))
        if seen is not None and seen[0] is eqn and seen[1] == _signature(eqn):
            return  # this very equation on the same Vars and avals passed already
    avals = [x.aval if isinstance(x, Var) else x for x in eqn.inputs]
    try:
        out = eqn.prim.abstract_eval(*avals, **eqn.params)
    except (GraphCompareError, TypeError, ValueError, IndexError) as exc:
        _fail(graph, f"abstract_eval rejects the inputs: {exc}", eqn, index)
    expected = list(out) if eqn.prim.multiple_results else [out]
    if len(expected) != len(eqn.outputs):
        _fail(graph, f"{len(eqn.outputs)} outputs, the primitive gives {len(expected)}",
              eqn, index)
    for var, aval in zip(eqn.outputs, expected):
        if not isinstance(var, Var):
            _fail(graph, f"output {var!r} is not a Var", eqn, index)
        if not compatible(var.aval, aval):
            _fail(graph, f"output {var!r} disagrees with abstract_eval ({aval})", eqn, index)
    if verified is not None:
        verified[id(eqn)] = (eqn, _signature(eqn))


def check_graph(graph: Graph, verified: dict | None = None) -> Graph:
    """Raise InvalidGraphError if `graph` is malformed; return it otherwise.

    `verified` (optional, filled here) remembers the equations whose outputs
    agreed with `abstract_eval`: checking a pass's result with the dict of the
    checks before it re-evaluates only the new or rewired equations (Eqns are
    immutable; every other check runs on every equation)."""
    defined: set[Var] = set()

    def define(v, what: str, eqn=None, index=None) -> None:
        if not isinstance(v, Var):
            _fail(graph, f"{what} {v!r} is not a Var", eqn, index)
        if v in defined:
            _fail(graph, f"{what} {v!r} is defined twice (SSA)", eqn, index)
        defined.add(v)

    for v in graph.inputs:
        define(v, "input")
    for v, info in graph.variables.items():
        define(v, "variable")
        _check_array(graph, v, info.initial, "variable")
    for v, value in graph.constants.items():
        define(v, "constant")
        _check_array(graph, v, value, "constant")
    for index, eqn in enumerate(graph.eqns):
        _check_eqn(graph, eqn, index, defined, verified)
        for v in eqn.outputs:
            define(v, "output", eqn, index)
    for v in graph.outputs:
        if v not in defined:
            _fail(graph, f"graph output {v!r} is not defined")
    targets: set[Var] = set()
    for var, value in graph.updates:
        if var not in graph.variables:
            _fail(graph, f"update target {var!r} is not a variable")
        if var in targets:
            _fail(graph, f"variable {var!r} is updated twice")
        targets.add(var)
        if value not in defined:
            _fail(graph, f"update value {value!r} for {var!r} is not defined")
        if not compatible(var.aval, value.aval):
            _fail(graph, f"update value {value!r} does not fit variable {var!r}")
    return graph
