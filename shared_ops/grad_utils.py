"""Helpers the VJP rules share: undoing broadcasting, expanding reductions.

They are written with this package's API, so they work on arrays, dyngraph
Tensors and staticgraph Symbols alike. Decisions are made on static shapes;
a dim of None (unknown until run time) is assumed not to be broadcast.
"""

from __future__ import annotations

from . import api as A
from .shapes import SCALAR_TYPES, shape_of


def unbroadcast(g, x):
    """Sum `g` down to the shape of operand `x` (the inverse of broadcasting)."""
    try:
        if x.shape == g.shape:  # the common case, checked first (backward's hot path)
            return g
    except AttributeError:  # Python scalars, or values shape_of handles below
        pass
    if isinstance(x, SCALAR_TYPES):
        return None
    xs, gs = shape_of(x), shape_of(g)
    if xs == gs:
        return g
    lead = len(gs) - len(xs)
    if lead > 0:
        g = A.reduce_canonical(A.P["sum"], g, tuple(range(lead)), False)
        gs = gs[lead:]
    axes = tuple(i for i, (xd, gd) in enumerate(zip(xs, gs)) if xd == 1 and gd != 1)
    if axes:
        g = A.reduce_canonical(A.P["sum"], g, axes, True)
    return g


def expand_to(g, x):
    """Broadcast `g` up to the shape of `x` (run-time dims allowed)."""
    shape = shape_of(x)
    if shape_of(g) == shape:
        return g
    if None in shape:
        return A.add(g, A.zeros_like(x))
    return A.broadcast_to(g, shape)


def reshape_to(g, x):
    """Reshape `g` to the shape of `x`; one run-time dim becomes -1."""
    shape = shape_of(x)
    unknown = sum(d is None for d in shape)
    if unknown == 0:
        return A.reshape(g, shape)
    if unknown == 1:
        return A.reshape(g, tuple(-1 if d is None else d for d in shape))
    return A.reshape_like(g, x)


def restore_reduced(g, axes, keepdims: bool):
    """Put back the reduced axes of a reduction's cotangent as size-1 dims."""
    if keepdims or not axes:
        return g
    return A.expand_dims(g, axes)


def count_of(x, axes):
    """Number of elements a reduction over `axes` combines (int if static)."""
    shape = shape_of(x)
    dims = [shape[a] for a in axes]
    if None in dims:
        return A.axis_size(x, axes=tuple(axes))
    count = 1
    for d in dims:
        count *= d
    return count
