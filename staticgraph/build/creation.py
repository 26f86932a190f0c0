"""TF1 creation ops: `identity`, `placeholder_with_default`, `zeros`, `ones`, `fill`.

`identity` and `placeholder_with_default` are one staticgraph primitive,
`identity`, whose output may declare a less specific shape than its input
(None dims). A run may feed any symbol, so a `placeholder_with_default` is an
identity of its default value whose shape admits every value TF1 would
accept; when the run does not feed it, the default flows through.
"""

from __future__ import annotations

import numpy as np

from shared_ops import AbstractArray, DTypeError, Primitive, ShapeError, format_site
from shared_ops import api as A

from .ops import as_symbol, constant, placeholder_dims
from .symbol import Symbol, bind_symbolic, current_site


def _identity_eval(x, *, shape=None):
    if shape is None:
        return AbstractArray(x.shape, x.dtype)
    fits = len(shape) == len(x.shape) and all(
        d is None or n is None or d == n for d, n in zip(shape, x.shape))
    if not fits:
        raise ShapeError(f"placeholder_with_default: the default's shape {tuple(x.shape)} "
                         f"does not fit the declared shape {tuple(shape)}")
    return AbstractArray(tuple(shape), x.dtype)


def _identity_vjp(g, out, x, *, needs, shape=None):
    return (g,)


identity_p = Primitive(
    name="identity", impl=lambda x, shape=None: x, abstract_eval=_identity_eval,
    vjp=_identity_vjp, views=True,
    doc="the input unchanged; `shape` may relax static dims to None")


def identity(input, name: str | None = None) -> Symbol:
    """A new symbol with the value of `input` (TF1's `tf.identity`); gradient passes through."""
    out = bind_symbolic(identity_p, (as_symbol(input),), {})
    _name(out, name)
    return out


def placeholder_with_default(input, shape, name: str | None = None) -> Symbol:
    """A symbol that is `input` unless the run feeds it (TF1's `placeholder_with_default`).

    `shape` may leave dims as None; a feed must fit it (FeedError otherwise),
    the default must fit it too (ShapeError at build time).
    """
    out = bind_symbolic(identity_p, (as_symbol(input),), {"shape": placeholder_dims(shape)})
    _name(out, name or "PlaceholderWithDefault")
    return out


def _name(sym: Symbol, name: str | None) -> None:
    if name:
        sym.var.name = sym.graph.unique_name(name)


def _static_shape(shape, what: str) -> tuple:
    if isinstance(shape, Symbol):
        where = format_site(current_site())
        raise ShapeError(f"{what}: the shape must be known when the graph is built (a tuple "
                         "of ints); for a shape known only at run time use "
                         "sg.zeros_like / sg.ones_like / sg.broadcast_to"
                         + (f" (at {where})" if where else ""))
    dims = placeholder_dims(shape)
    if None in dims:
        raise ShapeError(f"{what}: every dim must be known, got {dims}")
    return dims


def zeros(shape, dtype="float32", name: str | None = None) -> Symbol:
    """A constant of zeros (TF1's `tf.zeros(shape, dtype=tf.float32)`)."""
    return constant(np.zeros(_static_shape(shape, "zeros"), _dtype(dtype, "zeros")),
                    name=name)


def ones(shape, dtype="float32", name: str | None = None) -> Symbol:
    """A constant of ones (TF1's `tf.ones(shape, dtype=tf.float32)`)."""
    return constant(np.ones(_static_shape(shape, "ones"), _dtype(dtype, "ones")), name=name)


def fill(dims, value, name: str | None = None) -> Symbol:
    """`value` broadcast to `dims` (TF1's `tf.fill`); `value` may be a 0-d symbol."""
    dims = _static_shape(dims, "fill")
    if isinstance(value, Symbol):
        if value.ndim != 0:
            raise ShapeError(f"fill: the value must be 0-d, got shape {value.shape}")
        return A.broadcast_to(value, dims)
    arr = np.asarray(value)
    if arr.ndim != 0:
        raise ShapeError(f"fill: the value must be a scalar, got shape {arr.shape}")
    dtype = np.float32 if isinstance(value, float) else None
    return constant(np.full(dims, arr, dtype=dtype), name=name)


def _dtype(dtype, what: str) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind not in "biuf":
        raise DTypeError(f"{what}: unsupported dtype {dtype}")
    return dtype
