"""Dead-code elimination: drop equations and constants nothing needs.

Roots are the graph's outputs, its update values, and every effectful
equation (`assign`/`group` in a user graph: they must run although they
give no value anyone reads). A walk backwards over the equations keeps an
equation when one of its outputs is live. Inputs and variables stay: they
are the graph's interface. Subgraphs (cond branches) are cleaned with the
same pass; their outputs are their roots.
"""

from __future__ import annotations

from ..graph.ir import Graph
from .common import is_effect, map_subgraphs


def eliminate_dead_code(graph: Graph) -> Graph:
    """`graph` without the equations and constants its results do not need."""
    live = set(graph.outputs) | {value for _, value in graph.updates}
    kept = []
    for eqn in reversed(graph.eqns):
        if is_effect(eqn) or any(v in live for v in eqn.outputs):
            kept.append(eqn)
            live.update(eqn.in_vars)
    out = graph.copy()
    out.eqns = [map_subgraphs(e, eliminate_dead_code) for e in reversed(kept)]
    out.constants = {v: c for v, c in graph.constants.items() if v in live}
    return out
