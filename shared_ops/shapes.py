"""Abstract values (shape + dtype) and the shape/dtype rules ops share.

A dim may be ``None``: known only at run time (a batch dim in a static
graph). Python scalars stay "weak": they never promote an array's dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import DTypeError, ShapeError
from .sites import format_site, user_site

Shape = tuple  # tuple[int | None, ...]
SCALAR_TYPES = (bool, int, float)
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@dataclass(frozen=True)
class AbstractArray:
    """What the graph knows about a value before it runs."""

    shape: Shape
    dtype: np.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __str__(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.dtype.name}[{dims}]"


def aval_of(x):
    """The abstract value of an operand; Python scalars are returned as is."""
    if isinstance(x, SCALAR_TYPES):
        return x
    shape, dtype = getattr(x, "shape", None), getattr(x, "dtype", None)
    if shape is not None and dtype is not None:
        return AbstractArray(tuple(shape), np.dtype(dtype))
    arr = np.asarray(x)
    if arr.dtype == object or arr.dtype.kind in "USV":
        raise DTypeError(f"cannot use a value of type {type(x).__name__} as an array")
    return AbstractArray(arr.shape, arr.dtype)


def shape_of(x) -> Shape:
    """Static shape of any operand (Python scalars have shape ())."""
    shape = getattr(x, "shape", None)
    if shape is not None:
        return shape
    if isinstance(x, SCALAR_TYPES):
        return ()
    return np.shape(x)


def dtype_of(x) -> np.dtype:
    if isinstance(x, SCALAR_TYPES):
        return np.result_type(x)
    return np.dtype(x.dtype) if hasattr(x, "dtype") else np.asarray(x).dtype


def broadcast_shapes(op: str, *shapes: Shape) -> Shape:
    """NumPy broadcasting where a dim may be None (unknown until run time)."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for axis in range(ndim):
        dims = [s[axis - ndim + len(s)] for s in shapes if axis - ndim + len(s) >= 0]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            shown = " and ".join(str(tuple(s)) for s in shapes)
            raise ShapeError(f"{op}: cannot broadcast shapes {shown}")
        if known:
            out.append(known.pop())
        elif any(d is None for d in dims):
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


def result_dtype(op: str, *operands) -> np.dtype:
    """NumPy 2 (NEP 50) promotion: Python scalars are weak."""
    parts = []
    for x in operands:
        if isinstance(x, SCALAR_TYPES):
            parts.append(x)
        else:
            dt = x.dtype if isinstance(x, AbstractArray) else dtype_of(x)
            if dt.kind not in "biuf":
                raise DTypeError(f"{op}: unsupported dtype {dt}")
            parts.append(dt)
    return np.result_type(*parts)


def float_dtype(op: str, dtype: np.dtype) -> np.dtype:
    """Float result dtype for transcendental ops (ints/bools become float64)."""
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def normalize_axis(op: str, axis: int, ndim: int) -> int:
    """`axis` as a non-negative index into `ndim` dims; ShapeError if out of range."""
    if not -ndim <= axis < ndim:
        raise ShapeError(f"{op}: axis {axis} is out of range for {ndim}-d input{at_user()}")
    return axis % ndim


def at_user() -> str:
    """' (at file.py:12)': the user's line, for errors raised before any engine sees the op."""
    site = format_site(user_site(2))
    return f" (at {site})" if site else ""


def normalize_axes(op: str, axis, ndim: int) -> tuple[int, ...]:
    """None -> all axes; int or sequence -> sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = tuple(sorted(normalize_axis(op, int(a), ndim) for a in axes))
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: repeated axis in {axis}{at_user()}")
    return out
