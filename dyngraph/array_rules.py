"""Backward rules specialised to raw ndarrays, for dyngraph's fast backward.

Without create_graph, backward runs the shared VJP rules on plain arrays.
For the small arrays of an RNN step the shared rules' API dispatch and
temporaries cost more than the arithmetic, so the engine calls these
instead: `matmul_grads` (the two products directly for 2-D arrays) and the
rules in `ARRAY_RULES` (the shared rule's results, from positional arguments;
the shared rule itself for any case they do not handle).
"""

from __future__ import annotations

import numpy as np

from shared_ops import REGISTRY
from shared_ops.grad_utils import unbroadcast

MATMUL = REGISTRY["matmul"]
_TANH, _ADD, _RELU = REGISTRY["tanh"], REGISTRY["add"], REGISTRY["relu"]
_SAME_WIDTH_INT = {2: np.int16, 4: np.int32, 8: np.int64}  # float itemsize -> int type
# Arrays up to this many elements are overhead-bound: a rule makes fresh
# temporaries for them rather than writing in place.
SMALL_ELEMENTS = 1024


def matmul_grads(g, a, b, needs: tuple, transposes: dict) -> tuple:
    """matmul's VJP: `g @ b.T` and `a.T @ g` on 2-D ndarrays, else the shared rule.

    `transposes` belongs to one backward walk: a `b` met a second time there
    (a weight shared by the steps of an RNN) gets a C-contiguous copy of its
    transpose, used from then on, because BLAS multiplies by a contiguous
    matrix faster than by a transposed view of one.
    """
    if type(g) is np.ndarray and type(a) is np.ndarray and type(b) is np.ndarray \
            and g.ndim == a.ndim == b.ndim == 2:
        return (g.dot(_transpose(b, transposes)) if needs[0] else None,
                a.T.dot(g) if needs[1] else None)
    return MATMUL.vjp(g, None, a, b, needs=needs)


def _transpose(b: np.ndarray, transposes: dict) -> np.ndarray:
    """`b.T`; from `b`'s second use in the walk, one contiguous copy of it."""
    seen = transposes.get(id(b))
    if seen is None:
        transposes[id(b)] = (b, None)  # holding b keeps its id unique for the walk
        return b.T
    copy = seen[1]
    if copy is None:
        copy = np.ascontiguousarray(b.T)
        transposes[id(b)] = (b, copy)
    return copy


def _tanh_vjp(g, out, inputs: tuple, needs: tuple):
    """tanh's VJP, `g - g * out * out` (arrays of one shape, not 0-d: NumPy gives a
    scalar for those). Small arrays take fresh temporaries, which NumPy makes faster
    than it writes in place; large ones reuse one temporary."""
    if type(g) is np.ndarray and type(out) is np.ndarray and g.shape == out.shape and g.ndim:
        if g.size <= SMALL_ELEMENTS:
            return (g - g * out * out,)
        grad = g * out
        grad *= out
        return (np.subtract(g, grad, out=grad),)
    return _TANH.vjp(g, out, *inputs, needs=needs)


def _add_vjp(g, out, inputs: tuple, needs: tuple):
    """add's VJP: `g`, summed down to each operand's shape (`_summed_to`)."""
    if type(g) is np.ndarray:
        x, y = inputs
        return (_summed_to(g, x) if needs[0] else None, _summed_to(g, y) if needs[1] else None)
    return _ADD.vjp(g, out, *inputs, needs=needs)


def _relu_vjp(g, out, inputs: tuple, needs: tuple):
    """relu's VJP, `g` where out > 0 and +0 elsewhere (NaN and inf in `g` included),
    for a large float `g` of out's shape and dtype: g's bits ANDed with an all-ones
    or all-zeros mask. `np.where` branches on each element, and mispredicts about
    half the time on the mixed signs of a layer's pre-activations."""
    if type(g) is np.ndarray and type(out) is np.ndarray and g.shape == out.shape and \
            g.dtype is out.dtype and g.size > SMALL_ELEMENTS and g.dtype.kind == "f" and \
            g.dtype.itemsize in _SAME_WIDTH_INT:
        ints = _SAME_WIDTH_INT[g.dtype.itemsize]
        mask = np.negative(np.greater(out, 0).view(np.int8)).astype(ints)
        return (np.bitwise_and(g.view(ints), mask).view(g.dtype),)
    return _RELU.vjp(g, out, *inputs, needs=needs)


def _summed_to(g: np.ndarray, x):
    """`unbroadcast(g, x)`, with its common case spelled out: `g` itself for an
    operand of its shape, one `np.add.reduce` over the leading dims for one that
    matches g's trailing dims (a bias); `unbroadcast` for the rest."""
    shape = getattr(x, "shape", None)
    if shape == g.shape:
        return g
    if shape is not None and 0 < len(shape) < g.ndim and shape == g.shape[-len(shape):]:
        return np.add.reduce(g, axis=tuple(range(g.ndim - len(shape))))
    return unbroadcast(g, x)


# primitive (one without params) -> its rule on raw arrays, `rule(g, out, inputs,
# needs)`, giving the shared rule's results
ARRAY_RULES: dict = {_TANH: _tanh_vjp, _ADD: _add_vjp, _RELU: _relu_vjp}
