"""Indexing with run-time index arrays: take (TF's gather, PyTorch's
index_select and embedding), gather (PyTorch's gather), one_hot.

The gradients scatter-add (`take_grad`, `gather_grad`): an index that
appears twice accumulates both cotangents. Indices must lie in
[0, size): an index outside it raises IndexError from `impl`, which each
engine reports as an IndexingError naming the op and the user's line.
"""

from __future__ import annotations

import numpy as np

from . import api as A
from .errors import DTypeError, ShapeError
from .primitive import Primitive, register
from .shapes import AbstractArray, dtype_of, shape_of


def _index_dtype(name: str, indices) -> None:
    kind = dtype_of(indices).kind
    if kind not in "iu":
        raise DTypeError(f"{name}: indices must be integers, got {dtype_of(indices)}")


def check_indices(name: str, indices, size: int, axis: int) -> np.ndarray:
    """`indices` as an integer array, every entry in [0, size)."""
    indices = np.asarray(indices)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"indices must be integers, got {indices.dtype}")
    if indices.size:
        low, high = int(indices.min()), int(indices.max())
        if low < 0 or high >= size:
            bad = low if low < 0 else high
            raise IndexError(f"index {bad} is out of range for axis {axis} with size {size}")
    return indices


# ---- take: x[:, ..., indices, ...] along one axis --------------------------

def _take_eval(x, indices, *, axis):
    _index_dtype("take", indices)
    shape = shape_of(x)
    if not 0 <= axis < len(shape):
        raise ShapeError(f"take: axis {axis} is out of range for a {len(shape)}-d input")
    return AbstractArray(shape[:axis] + tuple(shape_of(indices)) + shape[axis + 1:],
                         dtype_of(x))


def _take_impl(x, indices, *, axis):
    x = np.asarray(x)
    indices = check_indices("take", indices, x.shape[axis], axis)
    return np.take(x, indices, axis=axis)


def _take_grad_impl(g, x, indices, *, axis):
    result = np.zeros(np.shape(x), dtype=np.result_type(g))
    np.add.at(result, (slice(None),) * axis + (np.asarray(indices),), g)
    return result


take = register(Primitive(
    name="take", impl=_take_impl, abstract_eval=_take_eval, shape_only=(0,),
    vjp=lambda g, out, x, indices, *, needs, axis: (
        A.take_grad(g, x, indices, axis) if needs[0] else None, None),
    doc="x indexed along `axis` by an integer array (np.take, tf.gather)"))
take_grad = register(Primitive(
    name="take_grad", impl=_take_grad_impl, shape_only=(1,),
    abstract_eval=lambda g, x, indices, *, axis: AbstractArray(shape_of(x), dtype_of(g)),
    vjp=lambda gg, out, g, x, indices, *, needs, axis: (A.take(gg, indices, axis), None, None),
    doc="zeros shaped like x with g scatter-added along `axis` at indices (take's VJP)"))


# ---- gather: PyTorch's gather (out[i][j] = x[i][index[i][j]] for axis 1) ----

def _gather_eval(x, index, *, axis):
    _index_dtype("gather", index)
    xs, ins = shape_of(x), tuple(shape_of(index))
    if len(xs) != len(ins):
        raise ShapeError(f"gather: index has {len(ins)} dims but the input has {len(xs)}")
    if not 0 <= axis < len(xs):
        raise ShapeError(f"gather: axis {axis} is out of range for a {len(xs)}-d input")
    for d, (n, m) in enumerate(zip(xs, ins)):
        if d != axis and n is not None and m is not None and m > n:
            raise ShapeError(f"gather: index size {m} exceeds the input size {n} in dim {d} "
                             f"(index shape {ins}, input shape {xs})")
    return AbstractArray(ins, dtype_of(x))


def _gather_positions(x_shape, index, axis: int) -> tuple:
    """The advanced index that picks x[..., index[...], ...] element by element."""
    if len(x_shape) != index.ndim:
        raise ValueError(f"index has {index.ndim} dims but the input has {len(x_shape)}")
    for d, (n, m) in enumerate(zip(x_shape, index.shape)):
        if d != axis and m > n:
            raise ValueError(f"index size {m} exceeds the input size {n} in dim {d}")
    check_indices("gather", index, x_shape[axis], axis)
    grids = np.ogrid[tuple(slice(0, m) for m in index.shape)]
    return tuple(index if d == axis else grids[d] for d in range(index.ndim))


def _gather_impl(x, index, *, axis):
    x = np.asarray(x)
    return x[_gather_positions(x.shape, np.asarray(index), axis)]


def _gather_grad_impl(g, x, index, *, axis):
    result = np.zeros(np.shape(x), dtype=np.result_type(g))
    np.add.at(result, _gather_positions(result.shape, np.asarray(index), axis), g)
    return result


gather = register(Primitive(
    name="gather", impl=_gather_impl, abstract_eval=_gather_eval, shape_only=(0,),
    vjp=lambda g, out, x, index, *, needs, axis: (
        A.gather_grad(g, x, index, axis) if needs[0] else None, None),
    doc="PyTorch's gather: out[i][j] = x[i][index[i][j]] for axis 1"))
gather_grad = register(Primitive(
    name="gather_grad", impl=_gather_grad_impl, shape_only=(1,),
    abstract_eval=lambda g, x, index, *, axis: AbstractArray(shape_of(x), dtype_of(g)),
    vjp=lambda gg, out, g, x, index, *, needs, axis: (A.gather(gg, index, axis), None, None),
    doc="zeros shaped like x with g scatter-added where gather read (gather's VJP)"))


# ---- one_hot ---------------------------------------------------------------

def _one_hot_eval(indices, *, depth, dtype):
    _index_dtype("one_hot", indices)
    return AbstractArray(tuple(shape_of(indices)) + (depth,), np.dtype(dtype))


def _one_hot_impl(indices, *, depth, dtype):
    indices = np.asarray(indices)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"indices must be integers, got {indices.dtype}")
    return (indices[..., None] == np.arange(depth)).astype(dtype)


one_hot = register(Primitive(
    name="one_hot", impl=_one_hot_impl, abstract_eval=_one_hot_eval, differentiable=False,
    doc="indices -> one-hot vectors on a new last axis; an index outside [0, depth) gives a "
        "row of zeros (TF's one_hot)"))
