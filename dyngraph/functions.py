"""PyTorch-named tensor functions (dg.exp, dg.matmul, dg.cat, ...).

Each one routes to a shared_ops primitive through the dispatcher (`apply_binary`,
`apply_unary` for tensor operands, else `apply_primitive`); arguments
that are not Tensors are taken as constants.
"""

from __future__ import annotations

import numpy as np

import shared_ops.api as A
from shared_ops import REGISTRY as P
from shared_ops.made_functions import as_defined_here as _as_defined_here
from shared_ops.shapes import normalize_axis

from .dispatch import NO_PARAMS, apply_binary, apply_primitive, apply_unary, as_tensor
from .tensor import Tensor

__all__ = [
    "abs", "add", "allclose", "argmax", "broadcast_to", "cast", "cat", "clamp", "clip",
    "clone", "concatenate", "div", "divide", "eq", "exp", "flatten", "ge", "getitem", "gt",
    "le", "log", "log_softmax", "logical_and", "logical_not", "logical_or", "lt", "matmul",
    "max", "maximum", "mean", "min", "minimum", "mm", "mul", "multiply", "ne", "neg",
    "numel", "permute", "pow", "relu", "reshape", "sigmoid", "sign", "softmax", "sqrt",
    "squeeze", "stack", "sub", "subtract", "sum", "t", "tanh", "transpose", "true_divide",
    "unsqueeze", "where",
]


def unary_function(name: str):
    """`f(input)`: the elementwise primitive `name` on a tensor (or array data)."""
    prim = P[name]

    def fn(input):
        return apply_unary(prim, input if isinstance(input, Tensor) else Tensor(input))
    return _as_defined_here(fn, name, f"Elementwise {name}.")


def binary_function(name: str):
    """`f(input, other)`: the elementwise primitive `name`, broadcast."""
    prim = P[name]

    def fn(input, other):
        if isinstance(input, Tensor):
            return apply_binary(prim, input, other)
        return apply_primitive(prim, (input, other), NO_PARAMS, 2)
    return _as_defined_here(fn, name, f"Elementwise {name} with broadcasting.")


exp, log, sqrt, abs, tanh, sigmoid, relu, neg, sign = (
    unary_function(n)
    for n in ("exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "neg", "sign"))
add, sub, mul, div, pow, maximum, minimum = (
    binary_function(n) for n in ("add", "sub", "mul", "div", "pow", "maximum", "minimum"))
gt, lt, eq, ne, ge, le = (
    binary_function(n) for n in ("greater", "less", "equal", "not_equal", "greater_equal",
                         "less_equal"))
logical_and, logical_or = binary_function("logical_and"), binary_function("logical_or")
logical_not = unary_function("logical_not")
multiply, subtract, divide, true_divide = mul, sub, div, div


def matmul(input, other) -> Tensor:
    """Matrix product (batched and 1-d cases as in NumPy/PyTorch)."""
    return apply_primitive(P["matmul"], (input, other), {})


def mm(input, mat2) -> Tensor:
    """2-d matrix product."""
    return as_tensor(input).mm(mat2)


def where(condition, input, other) -> Tensor:
    """Elementwise `input` where `condition` is true, else `other` (broadcast)."""
    return apply_primitive(P["where"], (condition, input, other), {})


def clamp(input, min=None, max=None) -> Tensor:
    """Clamp every element into [min, max]; either bound may be None."""
    return A.clip(as_tensor(input), min, max)


clip = clamp


def sum(input, dim=None, keepdim: bool = False) -> Tensor:
    """Sum of all elements, or along `dim` (an int or tuple), keeping reduced dims if `keepdim`."""
    return A.sum(as_tensor(input), dim, keepdim)


def mean(input, dim=None, keepdim: bool = False) -> Tensor:
    """Mean of all elements, or along `dim` (an int or tuple), keeping reduced dims if `keepdim`."""
    return A.mean(as_tensor(input), dim, keepdim)


def max(input, dim=None, keepdim: bool = False):
    """max() of all elements, or (values, indices) along `dim` as in PyTorch."""
    return as_tensor(input).max(dim, keepdim)


def min(input, dim=None, keepdim: bool = False):
    """min() of all elements, or (values, indices) along `dim`."""
    return as_tensor(input).min(dim, keepdim)


def argmax(input, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the largest value along dim (None: in the flattened tensor), int64."""
    return A.argmax(as_tensor(input), dim, keepdim)


def softmax(input, dim: int = -1) -> Tensor:
    """Softmax along `dim`: exp(x) normalised to sum to 1."""
    return A.softmax(as_tensor(input), dim)


def log_softmax(input, dim: int = -1) -> Tensor:
    """Log of the softmax along `dim`, computed stably."""
    return A.log_softmax(as_tensor(input), dim)


def reshape(input, shape) -> Tensor:
    """The same elements in a new shape (one entry may be -1)."""
    shape = tuple(int(d) for d in shape)
    return apply_primitive(P["reshape"], (as_tensor(input),), {"shape": shape})


def permute(input, dims) -> Tensor:
    """Reorder the dims: output dim i is input dim `dims[i]`."""
    return A.transpose(as_tensor(input), dims)


def transpose(input, dim0: int, dim1: int) -> Tensor:
    """Swap dims `dim0` and `dim1`."""
    return A.swapaxes(as_tensor(input), dim0, dim1)


def t(input) -> Tensor:
    """Transpose a tensor with at most 2 dims (0-d and 1-d are returned as is)."""
    return as_tensor(input).t()


def squeeze(input, dim=None) -> Tensor:
    """Remove size-1 dims (all of them, or those in `dim`; a dim of another size is kept)."""
    return as_tensor(input).squeeze(dim)


def unsqueeze(input, dim: int) -> Tensor:
    """Insert a size-1 dim at position `dim`."""
    return A.expand_dims(as_tensor(input), dim)


def broadcast_to(input, shape) -> Tensor:
    """Broadcast `input` to `shape` with NumPy's rules."""
    return apply_primitive(P["broadcast_to"], (as_tensor(input),), {"shape": tuple(shape)})


def cat(tensors, dim: int = 0) -> Tensor:
    """Concatenate along an existing dim."""
    tensors = [as_tensor(x) for x in tensors]
    if not tensors:
        raise ValueError("cat: needs at least one tensor")
    axis = normalize_axis("cat", dim, tensors[0].ndim)
    return apply_primitive(P["concatenate"], tuple(tensors), {"axis": axis})


concatenate = cat


def stack(tensors, dim: int = 0) -> Tensor:
    """Stack along a new dim."""
    tensors = [as_tensor(x) for x in tensors]
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    return A.stack(tensors, dim)


def flatten(input, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Flatten dims `start_dim`..`end_dim` into one (a 0-d tensor becomes 1-d)."""
    return as_tensor(input).flatten(start_dim, end_dim)


def getitem(input, index) -> Tensor:
    """`input[index]` with NumPy indexing (ints, slices, None, Ellipsis, int/bool arrays)."""
    return as_tensor(input)[index]


def cast(input, dtype) -> Tensor:
    """`input` converted to `dtype` (recorded; a float cast passes the gradient through)."""
    return A.cast(as_tensor(input), dtype)


def clone(input) -> Tensor:
    """A differentiable copy."""
    return mul(input, 1)


def numel(input) -> int:
    """The number of elements of `input`."""
    return int(np.prod(as_tensor(input).shape, dtype=np.int64))


def allclose(a, b, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    """True if `a` and `b` are elementwise equal within `atol + rtol * abs(b)`."""
    return bool(np.allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol))
