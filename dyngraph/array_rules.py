"""Backward rules specialised to raw ndarrays, for dyngraph's fast backward.

Without create_graph, backward runs the shared VJP rules on plain arrays.
For a product of small matrices (an RNN step) the shared matmul rule's API
dispatch costs more than the arithmetic, so the engine calls `matmul_vjp`
instead: the two products directly for 2-D arrays, the shared rule for
every other case.
"""

from __future__ import annotations

import numpy as np

from shared_ops import REGISTRY

MATMUL = REGISTRY["matmul"]


def matmul_vjp(g, out, a, b, *, needs):
    """matmul's VJP: `g @ b.T` and `a.T @ g` on 2-D ndarrays, else the shared rule."""
    if type(g) is np.ndarray and type(a) is np.ndarray and type(b) is np.ndarray \
            and g.ndim == a.ndim == b.ndim == 2:
        return (g.dot(b.T) if needs[0] else None, a.T.dot(g) if needs[1] else None)
    return MATMUL.vjp(g, out, a, b, needs=needs)
