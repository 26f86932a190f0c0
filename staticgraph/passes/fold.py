"""Constant folding: evaluate now what depends only on constants.

An equation whose inputs are all constants (graph constants or literal
Python scalars) runs its NumPy `impl` at optimisation time; its output Var
becomes a constant of the graph (the Var is kept, so nothing downstream
changes). `axis_size` folds from static shapes alone. Skipped: effectful
and control-flow equations (cond, fused ops), multi-output ones, results
with more than `max_elements` elements (a large constant costs memory and
cache-key hashing for little gain), and results whose dtype or shape would
not match the equation's aval. An `impl` that raises is left for run time,
where the error names the user's line.
"""

from __future__ import annotations

import numpy as np

from shared_ops import REGISTRY, Effect

from ..graph.ir import Eqn, Graph
from .common import is_control, is_effect, literal_value, map_subgraphs

AXIS_SIZE = REGISTRY["axis_size"]

MAX_FOLD_ELEMENTS = 1 << 16


def _static_axis_size(eqn: Eqn) -> np.ndarray | None:
    x = eqn.inputs[0]
    shape = getattr(x, "shape", None)
    if shape is None:
        return None
    dims = [shape[a] for a in eqn.params["axes"]]
    if None in dims:
        return None
    return np.asarray(int(np.prod(dims, dtype=np.int64)), dtype=eqn.outputs[0].dtype)


def _evaluate(eqn: Eqn, constants: dict) -> np.ndarray | None:
    values = [literal_value(x, constants) for x in eqn.inputs]
    if any(v is None for v in values):
        return None
    try:
        with np.errstate(all="ignore"):
            return np.asarray(eqn.prim.impl(*values, **eqn.params))
    except Exception:  # noqa: BLE001 - the run-time error will name the user's line
        return None


def fold_value(eqn: Eqn, constants: dict, max_elements: int) -> np.ndarray | None:
    """The constant value of `eqn`'s single output, or None if it does not fold."""
    if is_effect(eqn) or is_control(eqn) or len(eqn.outputs) != 1 or \
            eqn.prim.effect is Effect.RANDOM or eqn.prim.multiple_results:
        return None
    out = eqn.outputs[0]
    known = [d for d in out.shape if d is not None]
    if len(known) == len(out.shape) and int(np.prod(known, dtype=np.int64)) > max_elements:
        return None
    if eqn.prim is AXIS_SIZE:
        value = _static_axis_size(eqn)
    else:
        value = _evaluate(eqn, constants)
    if value is None or value.size > max_elements:
        return None
    if value.dtype != out.dtype or value.ndim != len(out.shape) or any(
            d is not None and d != n for d, n in zip(out.shape, value.shape)):
        return None
    if None in out.shape:
        return None  # a folded constant must have the Var's exact static shape
    return np.array(value, copy=True, order="C")


def fold_constants(graph: Graph, max_elements: int = MAX_FOLD_ELEMENTS) -> Graph:
    """`graph` with every foldable equation replaced by a constant."""
    out = graph.copy()
    constants = dict(graph.constants)
    eqns = []
    for eqn in graph.eqns:
        eqn = map_subgraphs(eqn, lambda g: fold_constants(g, max_elements))
        value = fold_value(eqn, constants, max_elements)
        if value is None:
            eqns.append(eqn)
        else:
            constants[eqn.outputs[0]] = value
    out.constants = constants
    out.eqns = eqns
    return out
