"""matmul: 2-D, batched (broadcast batch dims) and NumPy's vector cases."""

from __future__ import annotations

import numpy as np

from . import api as A
from .errors import ShapeError
from .grad_utils import unbroadcast
from .primitive import Primitive, register
from .shapes import AbstractArray, broadcast_shapes, result_dtype, shape_of


def _matmul_eval(a, b):
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb:
        raise ShapeError(f"matmul: operands must be at least 1-d, got {sa} and {sb}")
    ma = (1,) + sa if len(sa) == 1 else sa
    mb = sb + (1,) if len(sb) == 1 else sb
    k1, k2 = ma[-1], mb[-2]
    if k1 is not None and k2 is not None and k1 != k2:
        raise ShapeError(f"matmul: inner dims differ: {sa} @ {sb}")
    batch = broadcast_shapes("matmul", ma[:-2], mb[:-2])
    out = batch + (ma[-2], mb[-1])
    if len(sa) == 1:
        out = out[:-2] + out[-1:]
    if len(sb) == 1:
        out = out[:-1]
    return AbstractArray(out, result_dtype("matmul", a, b))


def _matmul_vjp(g, out, a, b, *, needs):
    if type(g) is np.ndarray and type(a) is np.ndarray and type(b) is np.ndarray \
            and g.ndim == a.ndim == b.ndim == 2:  # dyngraph's backward: arrays, computed now
        return (_matmul_impl(g, b.T) if needs[0] else None,
                _matmul_impl(a.T, g) if needs[1] else None)
    va, vb = len(shape_of(a)) == 1, len(shape_of(b)) == 1
    if not (va or vb):  # matrices (batched or not): the common case, said plainly
        return (unbroadcast(A.matmul(g, A.matrix_transpose(b)), a) if needs[0] else None,
                unbroadcast(A.matmul(A.matrix_transpose(a), g), b) if needs[1] else None)
    if va and vb:
        return (A.mul(g, b) if needs[0] else None, A.mul(g, a) if needs[1] else None)
    a2 = A.expand_dims(a, (0,)) if va else a
    b2 = A.expand_dims(b, (1,)) if vb else b
    g2 = g
    if va:
        g2 = A.expand_dims(g2, (len(shape_of(g2)) - 1,))
    if vb:
        g2 = A.expand_dims(g2, (len(shape_of(g2)),))
    ga = gb = None
    if needs[0]:
        ga = unbroadcast(A.matmul(g2, A.matrix_transpose(b2)), a2)
        ga = A.squeeze(ga, (0,)) if va else ga
    if needs[1]:
        gb = unbroadcast(A.matmul(A.matrix_transpose(a2), g2), b2)
        gb = A.squeeze(gb, (1,)) if vb else gb
    return ga, gb


def _matmul_impl(a, b):
    """np.matmul; 2-D arrays take ndarray.dot, the same BLAS call with about a
    third of the dispatch cost (small matrices, as in an RNN step, pay it)."""
    if type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 and b.ndim == 2:
        return a.dot(b)
    return np.matmul(a, b)


matmul = register(Primitive(
    name="matmul", impl=_matmul_impl, abstract_eval=_matmul_eval, vjp=_matmul_vjp,
    doc="matrix product with NumPy's matmul semantics"))
