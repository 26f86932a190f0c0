"""N-ary primitives: `add_n`, the sum of a list of same-shaped arrays.

`add_n` is one op (TensorFlow's `tf.add_n`, the usual way to sum tower
gradients): every input must have the same shape and dtype, and its gradient
passes the output's cotangent to each input unchanged.
"""

from __future__ import annotations

import numpy as np

from .errors import DTypeError, ShapeError
from .primitive import Primitive, register
from .shapes import AbstractArray, dtype_of, shape_of


def _add_n_impl(*xs):
    out = np.array(xs[0], copy=True)
    for x in xs[1:]:
        out += x
    return out


def _add_n_eval(*xs):
    if not xs:
        raise ShapeError("add_n: needs at least one input")
    shapes = [tuple(shape_of(x)) for x in xs]
    dtypes = {np.dtype(dtype_of(x)) for x in xs}
    if len(dtypes) > 1:
        raise DTypeError(f"add_n: inputs must share one dtype, got "
                         f"{sorted(d.name for d in dtypes)}")
    dtype = dtypes.pop()
    if dtype.kind not in "biuf":
        raise DTypeError(f"add_n: unsupported dtype {dtype}")
    out = []
    for dims in zip(*shapes) if len({len(s) for s in shapes}) == 1 else [None]:
        if dims is None:
            raise ShapeError(f"add_n: inputs must share one shape, got {shapes}")
        known = {d for d in dims if d is not None}
        if len(known) > 1:
            raise ShapeError(f"add_n: inputs must share one shape, got {shapes}")
        out.append(known.pop() if known else None)
    return AbstractArray(tuple(out), dtype)


def _add_n_vjp(g, out, *xs, needs):
    return tuple(g if need else None for need in needs)


add_n = register(Primitive(
    name="add_n", impl=_add_n_impl, abstract_eval=_add_n_eval, vjp=_add_n_vjp,
    shape_only=(), doc="Sum of same-shaped, same-dtype arrays (tf.add_n)."))
