"""PyTorch-named tensor functions (dg.exp, dg.matmul, dg.cat, ...).

Each one routes to a shared_ops primitive through `apply_primitive`; arguments
that are not Tensors are taken as constants.
"""

from __future__ import annotations

import numpy as np

import shared_ops as so
import shared_ops.api as A
from shared_ops import REGISTRY as P
from shared_ops.made_functions import as_defined_here as _as_defined_here
from shared_ops.shapes import normalize_axes, normalize_axis

from .tensor import NO_PARAMS, Tensor, _run, apply_primitive


def _t(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _unary(name):
    prim = P[name]

    def fn(input):
        return apply_primitive(prim, (input if isinstance(input, Tensor) else Tensor(input),),
                               NO_PARAMS, 2)
    return _as_defined_here(fn, name, f"Elementwise {name}.")


def _binary(name):
    prim = P[name]

    def fn(input, other):
        return apply_primitive(prim, (input, other), NO_PARAMS, 2)
    return _as_defined_here(fn, name, f"Elementwise {name} with broadcasting.")


exp, log, sqrt, abs, tanh, sigmoid, relu, neg, sign = (
    _unary(n) for n in ("exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "neg", "sign"))
add, sub, mul, div, pow, maximum, minimum = (
    _binary(n) for n in ("add", "sub", "mul", "div", "pow", "maximum", "minimum"))
gt, lt, eq, ne, ge, le = (
    _binary(n) for n in ("greater", "less", "equal", "not_equal", "greater_equal",
                         "less_equal"))
logical_and, logical_or = _binary("logical_and"), _binary("logical_or")
logical_not = _unary("logical_not")
multiply, subtract, divide, true_divide = mul, sub, div, div


def matmul(input, other) -> Tensor:
    """Matrix product (batched and 1-d cases as in NumPy/PyTorch)."""
    return apply_primitive(P["matmul"], (input, other), {})


def mm(input, mat2) -> Tensor:
    """2-d matrix product."""
    if _t(input).ndim != 2 or _t(mat2).ndim != 2:
        raise so.ShapeError(f"mm: expects 2-d tensors, got {_t(input).shape} and "
                            f"{_t(mat2).shape}")
    return matmul(input, mat2)


def where(condition, input, other) -> Tensor:
    """Elementwise `input` where `condition` is true, else `other` (broadcast)."""
    return apply_primitive(P["where"], (condition, input, other), {})


def clamp(input, min=None, max=None) -> Tensor:
    """Clamp every element into [min, max]; either bound may be None."""
    return A.clip(_t(input), min, max)


clip = clamp


def _reduce(name, input, dim, keepdim):
    """The shared API's reduction (it normalises `dim`), on a Tensor."""
    return getattr(A, name)(_t(input), dim, keepdim)


def sum(input, dim=None, keepdim: bool = False) -> Tensor:
    """Sum of all elements, or along `dim` (an int or tuple), keeping reduced dims if `keepdim`."""
    return _reduce("sum", input, dim, keepdim)


def mean(input, dim=None, keepdim: bool = False) -> Tensor:
    """Mean of all elements, or along `dim` (an int or tuple), keeping reduced dims if `keepdim`."""
    return _reduce("mean", input, dim, keepdim)


def max(input, dim=None, keepdim: bool = False):
    """max() of all elements, or (values, indices) along `dim` as in PyTorch."""
    if dim is None:
        return _reduce("max", input, None, keepdim)
    values = _reduce("max", input, dim, keepdim)
    idx = np.argmax(_t(input)._data, axis=dim)
    return values, Tensor(np.expand_dims(idx, dim) if keepdim else idx)


def min(input, dim=None, keepdim: bool = False):
    """min() of all elements, or (values, indices) along `dim`."""
    if dim is None:
        return _reduce("min", input, None, keepdim)
    values = _reduce("min", input, dim, keepdim)
    idx = np.argmin(_t(input)._data, axis=dim)
    return values, Tensor(np.expand_dims(idx, dim) if keepdim else idx)


def argmax(input, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the largest value along dim (None: in the flattened tensor), int64."""
    return A.argmax(_t(input), dim, keepdim)


def softmax(input, dim: int = -1) -> Tensor:
    """Softmax along `dim`: exp(x) normalised to sum to 1."""
    return A.softmax(_t(input), dim)


def log_softmax(input, dim: int = -1) -> Tensor:
    """Log of the softmax along `dim`, computed stably."""
    return A.log_softmax(_t(input), dim)


def reshape(input, shape) -> Tensor:
    """The same elements in a new shape (one entry may be -1)."""
    shape = tuple(int(d) for d in shape)
    return apply_primitive(P["reshape"], (_t(input),), {"shape": shape})


def permute(input, dims) -> Tensor:
    """Reorder the dims: output dim i is input dim `dims[i]`."""
    return A.transpose(_t(input), dims)


def transpose(input, dim0: int, dim1: int) -> Tensor:
    """Swap dims `dim0` and `dim1`."""
    return A.swapaxes(_t(input), dim0, dim1)


def t(input) -> Tensor:
    """Transpose a tensor with at most 2 dims (0-d and 1-d are returned as is)."""
    input = _t(input)
    if input.ndim > 2:
        raise so.ShapeError(f"t: expects a tensor with <= 2 dims, got {input.ndim}")
    return input if input.ndim < 2 else transpose(input, 0, 1)


def squeeze(input, dim=None) -> Tensor:
    """Remove size-1 dims (all of them, or those in `dim`; a dim of another size is kept)."""
    input = _t(input)
    if dim is None:
        axes = tuple(i for i, d in enumerate(input.shape) if d == 1)
    else:
        axes = normalize_axes("squeeze", dim, input.ndim)
        axes = tuple(a for a in axes if input.shape[a] == 1)  # PyTorch: no-op otherwise
    return apply_primitive(P["squeeze"], (input,), {"axis": axes})


def unsqueeze(input, dim: int) -> Tensor:
    """Insert a size-1 dim at position `dim`."""
    return A.expand_dims(_t(input), dim)


def broadcast_to(input, shape) -> Tensor:
    """Broadcast `input` to `shape` with NumPy's rules."""
    return apply_primitive(P["broadcast_to"], (_t(input),), {"shape": tuple(shape)})


def cat(tensors, dim: int = 0) -> Tensor:
    """Concatenate along an existing dim."""
    tensors = [_t(x) for x in tensors]
    if not tensors:
        raise ValueError("cat: needs at least one tensor")
    axis = normalize_axis("cat", dim, tensors[0].ndim)
    return apply_primitive(P["concatenate"], tuple(tensors), {"axis": axis})


concatenate = cat


def stack(tensors, dim: int = 0) -> Tensor:
    """Stack along a new dim."""
    tensors = [_t(x) for x in tensors]
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    return A.stack(tensors, dim)


def flatten(input, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Flatten dims `start_dim`..`end_dim` into one (a 0-d tensor becomes 1-d)."""
    input = _t(input)
    if input.ndim == 0:
        return reshape(input, (1,))
    s = normalize_axis("flatten", start_dim, input.ndim)
    e = normalize_axis("flatten", end_dim, input.ndim)
    shape = input.shape[:s] + (-1,) + input.shape[e + 1:]
    return reshape(input, shape)


def getitem(input, index) -> Tensor:
    """`input[index]` with NumPy indexing (ints, slices, None, Ellipsis, int/bool arrays)."""
    if type(index) is int or type(index) is slice:  # the common case, already canonical
        index = (index,)
    else:
        index = so.normalize_index(_index_data(index))
    input = _t(input)
    if not input._requires_grad:  # nothing to record (a batch or a time step of data)
        return _run(_GETITEM, (input,), {"index": index})
    return apply_primitive(_GETITEM, (input,), {"index": index}, 2)


_GETITEM = P["getitem"]


def _index_data(index):
    if isinstance(index, Tensor):
        return index._data
    if isinstance(index, tuple):
        return tuple(i._data if isinstance(i, Tensor) else i for i in index)
    return index


def cast(input, dtype) -> Tensor:
    """`input` converted to `dtype` (recorded; a float cast passes the gradient through)."""
    return A.cast(_t(input), dtype)


def clone(input) -> Tensor:
    """A differentiable copy."""
    return mul(input, 1)


def numel(input) -> int:
    """The number of elements of `input`."""
    return int(np.prod(_t(input).shape, dtype=np.int64))


def allclose(a, b, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    """True if `a` and `b` are elementwise equal within `atol + rtol * abs(b)`."""
    return bool(np.allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol))

