"""Common-subexpression elimination: compute each distinct value once.

Two equations are the same when they apply the same primitive to the same
inputs with equal params (`keys.params_key`). The later one is dropped and
its outputs become aliases of the earlier one's. Inputs of ops declared
`commutative` (add, mul, equal, not_equal, logical_and/or) are put in a canonical order
first, which is exact in IEEE arithmetic. Constants holding equal arrays
(same dtype, shape, bytes) are merged the same way. Equations with an effect
(state or random draws) are never merged. Subgraphs are processed first (each on its own); equations
holding subgraphs merge when the subgraphs are structurally equal.
"""

from __future__ import annotations

from shared_ops import Effect

from ..graph.ir import Eqn, Graph, Var
from .common import finish, is_effect, map_subgraphs, scalar_key, substitute
from .keys import array_key, params_key


def _atom_key(x) -> tuple:
    return ("v", x.id) if isinstance(x, Var) else ("lit",) + scalar_key(x)


def eqn_key(eqn: Eqn) -> tuple:
    """What makes two equations compute the same values."""
    inputs = [_atom_key(x) for x in eqn.inputs]
    if eqn.prim.commutative:
        inputs.sort()
    return (id(eqn.prim), eqn.device, tuple(inputs), params_key(eqn.params), len(eqn.outputs))


def _merge_constants(graph: Graph, alias: dict) -> dict:
    """Constants with equal contents: keep the first of each, alias the rest."""
    seen: dict[tuple, Var] = {}
    kept = {}
    for v, value in graph.constants.items():
        key = array_key(value)
        if key in seen:
            alias[v] = seen[key]
        else:
            seen[key] = v
            kept[v] = value
    return kept


def eliminate_common_subexpressions(graph: Graph) -> Graph:
    """`graph` with repeated computations (and duplicate constants) merged."""
    out = graph.copy()
    alias: dict[Var, Var] = {}
    out.constants = _merge_constants(graph, alias)
    seen: dict[tuple, Eqn] = {}
    eqns = []
    for eqn in graph.eqns:
        eqn = map_subgraphs(substitute(eqn, alias), eliminate_common_subexpressions)
        if is_effect(eqn) or eqn.prim.effect is Effect.RANDOM:
            eqns.append(eqn)
            continue
        key = eqn_key(eqn)
        earlier = seen.get(key)
        if earlier is None:
            seen[key] = eqn
            eqns.append(eqn)
            continue
        for mine, theirs in zip(eqn.outputs, earlier.outputs):
            alias[mine] = theirs
    out.eqns = eqns
    return finish(out, alias)
