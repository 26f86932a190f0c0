"""The engine-neutral API: one function per op, dispatched by `bind`.

Call these with NumPy arrays (computed at once), dyngraph Tensors (computed
and recorded on the tape) or staticgraph Symbols (a node added to the graph).
Parameters are normalised here (axes to sorted tuples, indices to tuples) so
that every engine sees one canonical form.
"""

from __future__ import annotations

import numpy as np

from .api_nn import *  # noqa: F401,F403  (reductions, indexing, einsum, conv, pooling)
from .api_nn import normalize_einsum, window_params  # noqa: F401
from .errors import DTypeError, IndexingError, ShapeError
from .made_functions import as_defined_here
from .primitive import REGISTRY, binary_function, bind, bind_unary, unary_function
from .shapes import at_user, dtype_of, normalize_axes, normalize_axis, shape_of  # noqa: F401

P = REGISTRY


def _unary(name: str):
    doc = f"Elementwise {name}(x)."
    return as_defined_here(unary_function(name, doc), name, doc)


def _binary(name: str):
    doc = f"Elementwise {name}(x, y) with NumPy broadcasting."
    return as_defined_here(binary_function(name, doc), name, doc)


add, sub, mul, div, pow, maximum, minimum = (
    _binary(n) for n in ("add", "sub", "mul", "div", "pow", "maximum", "minimum"))
greater, less, equal, not_equal, greater_equal, less_equal = (
    _binary(n) for n in ("greater", "less", "equal", "not_equal", "greater_equal",
                         "less_equal"))
logical_and, logical_or = _binary("logical_and"), _binary("logical_or")
neg, exp, log, sqrt, abs, tanh, sigmoid, relu = (
    _unary(n) for n in ("neg", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu"))
log1p, expm1, sin, cos = (_unary(n) for n in ("log1p", "expm1", "sin", "cos"))
sign, zeros_like, logical_not, stop_gradient = (
    _unary(n) for n in ("sign", "zeros_like", "logical_not", "stop_gradient"))


def where(cond, x, y):
    """Elementwise `x if cond else y` with broadcasting."""
    return bind(P["where"], cond, x, y)


def clip(x, lo=None, hi=None):
    """Clamp x to [lo, hi]; either bound may be None."""
    return bind(P["clip"], x, lo=lo, hi=hi)


def cast(x, dtype):
    """Convert x to dtype (gradient converts back for float inputs)."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "biuf":
        raise DTypeError(f"cast: unsupported dtype {dtype}{at_user()}")
    return bind(P["cast"], x, dtype=dtype)


def _reduce(name, x, axis, keepdims):
    axes = normalize_axes(name, axis, len(shape_of(x)))
    return reduce_canonical(P[name], x, axes, bool(keepdims))


def reduce_canonical(prim, x, axes: tuple, keepdims: bool):
    """A reduction whose axes are already a sorted tuple (the VJP helpers')."""
    return bind_unary(prim, x, axis=axes, keepdims=keepdims)


def sum(x, axis=None, keepdims=False):
    """Sum over axis (int, tuple, or None for all)."""
    return _reduce("sum", x, axis, keepdims)


def mean(x, axis=None, keepdims=False):
    """Mean over axis (int, tuple, or None for all)."""
    return _reduce("mean", x, axis, keepdims)


def max(x, axis=None, keepdims=False):
    """Maximum over axis (int, tuple, or None for all)."""
    return _reduce("max", x, axis, keepdims)


def min(x, axis=None, keepdims=False):
    """Minimum over axis: the max of an order-reversing map, mapped back. The map
    is neg for floats, logical_not for bools and `~x` (as `-1 - x`, or `iinfo.max -
    x` when unsigned) for integers, where neg would overflow at the most negative."""
    kind = dtype_of(x).kind
    if kind == "b":
        return logical_not(max(logical_not(x), axis, keepdims))
    if kind in "iu":
        top = -1 if kind == "i" else int(np.iinfo(dtype_of(x)).max)
        return sub(top, max(sub(top, x), axis, keepdims))
    return neg(max(neg(x), axis, keepdims))


def softmax(x, axis=-1):
    """Numerically stable softmax along one axis."""
    return bind(P["softmax"], x, axis=(normalize_axis("softmax", axis, len(shape_of(x))),))


def log_softmax(x, axis=-1):
    """Numerically stable log-softmax along one axis."""
    ax = normalize_axis("log_softmax", axis, len(shape_of(x)))
    return bind(P["log_softmax"], x, axis=(ax,))


matmul = binary_function("matmul", "Matrix product (NumPy semantics: batched, 1-d vector cases).")


def transpose(x, axes=None):
    """Permute axes (None reverses them)."""
    n = len(shape_of(x))
    axes = tuple(range(n))[::-1] if axes is None else tuple(
        normalize_axis("transpose", int(a), n) for a in axes)
    return bind(P["transpose"], x, axes=axes)


_SWAP_LAST: dict[int, tuple] = {}  # ndim -> the permutation exchanging the last two axes


def matrix_transpose(x):
    """Exchange the last two axes (x.mT); the matmul VJP's transpose."""
    n = len(shape_of(x))
    perm = _SWAP_LAST.get(n)
    if perm is None:
        if n < 2:
            raise ShapeError(f"matrix_transpose: needs at least 2 dims, got {n}{at_user()}")
        perm = _SWAP_LAST[n] = tuple(range(n - 2)) + (n - 1, n - 2)
    return bind_unary(P["transpose"], x, axes=perm)


def swapaxes(x, a, b):
    """Exchange two axes."""
    n = len(shape_of(x))
    perm = list(range(n))
    a, b = normalize_axis("swapaxes", a, n), normalize_axis("swapaxes", b, n)
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, perm)


def reshape(x, shape):
    """New shape with the same elements; one dim may be -1."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)
    return bind(P["reshape"], x, shape=shape)


def reshape_like(x, like):
    """Reshape x to the run-time shape of `like`."""
    return bind(P["reshape_like"], x, like)


def axis_size(x, axes):
    """Product of x's run-time dims over axes (as x's dtype)."""
    return bind(P["axis_size"], x, axes=tuple(axes))


def broadcast_to(x, shape):
    """Broadcast x to shape (NumPy rules)."""
    return bind(P["broadcast_to"], x, shape=tuple(shape))


def expand_dims(x, axis):
    """Insert size-1 dims at the given positions of the result."""
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    axes = normalize_axes("expand_dims", axes, len(shape_of(x)) + len(axes))
    return bind(P["expand_dims"], x, axis=axes)


def squeeze(x, axis=None):
    """Remove size-1 dims (all known ones when axis is None)."""
    shape = shape_of(x)
    if axis is None:
        axes = tuple(i for i, d in enumerate(shape) if d == 1)
    else:
        axes = normalize_axes("squeeze", axis, len(shape))
    return bind(P["squeeze"], x, axis=axes)


def concatenate(xs, axis=0):
    """Join arrays along an existing axis."""
    xs = tuple(xs)
    if not xs:
        raise ShapeError(f"concatenate: needs at least one input{at_user()}")
    axis = normalize_axis("concatenate", axis, len(shape_of(xs[0])))
    return bind(P["concatenate"], *xs, axis=axis)


def stack(xs, axis=0):
    """Join arrays along a new axis."""
    xs = tuple(xs)
    if not xs:
        raise ShapeError(f"stack: needs at least one input{at_user()}")
    axis = normalize_axis("stack", axis, len(shape_of(xs[0])) + 1)
    return concatenate([expand_dims(x, axis) for x in xs], axis=axis)


def normalize_index(index) -> tuple:
    """Canonical index: a tuple of ints, slices, None, Ellipsis and ndarrays."""
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    for item in index:
        if isinstance(item, (slice, int, type(None), type(Ellipsis))) and not isinstance(
                item, bool):
            out.append(item)
        elif isinstance(item, np.integer):
            out.append(int(item))
        else:
            arr = np.asarray(item)
            if arr.dtype.kind not in "biu":
                raise IndexingError(f"getitem: index arrays must be integer or bool, got "
                                    f"{arr.dtype}{at_user()}")
            out.append(arr)
    return tuple(out)


def getitem(x, index):
    """x[index]: basic slicing, integer arrays, boolean masks."""
    return bind(P["getitem"], x, index=normalize_index(index))


def getitem_grad(g, x, index):
    """Scatter-add g into zeros shaped like x at index (getitem's VJP)."""
    return bind(P["getitem_grad"], g, x, index=normalize_index(index))


def add_n(xs):
    """The sum of a list of arrays of one shape and dtype (TensorFlow's add_n)."""
    xs = tuple(xs)
    if not xs:
        raise ShapeError(f"add_n: needs at least one input{at_user()}")
    return bind(P["add_n"], *xs)

