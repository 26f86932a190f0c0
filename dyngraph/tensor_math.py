"""Tensor arithmetic: operators, elementwise methods, reductions, softmax.

`TensorMathMixin` is one of the bases of `dyngraph.Tensor`. The operators
and elementwise methods call the dispatcher directly (`apply_binary` and
`apply_unary` for `self` with another tensor or alone; the user's line is the
method's caller); the others go through `shared_ops.api`, whose `bind` hands
Tensors to the same dispatcher.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

import shared_ops.api as A
from shared_ops import REGISTRY as P
from shared_ops import ShapeError

from .dispatch import NO_PARAMS, apply_binary, apply_primitive, apply_unary, as_tensor, wrap

if TYPE_CHECKING:
    from typing_extensions import Self

_ADD, _SUB, _MUL, _DIV, _POW = P["add"], P["sub"], P["mul"], P["div"], P["pow"]
_MATMUL, _MAXIMUM, _MINIMUM = P["matmul"], P["maximum"], P["minimum"]
_GT, _LT, _GE, _LE = P["greater"], P["less"], P["greater_equal"], P["less_equal"]
_EQ, _NE = P["equal"], P["not_equal"]
_AND, _OR, _NOT = P["logical_and"], P["logical_or"], P["logical_not"]
_NEG, _ABS, _EXP, _LOG, _SQRT = P["neg"], P["abs"], P["exp"], P["log"], P["sqrt"]
_TANH, _SIGMOID, _RELU, _SIGN = P["tanh"], P["sigmoid"], P["relu"], P["sign"]
_LOG1P, _EXPM1, _SIN, _COS = P["log1p"], P["expm1"], P["sin"], P["cos"]


def variance_correction(dim, unbiased, correction) -> tuple:
    """PyTorch's two spellings: var(x, dim, unbiased, keepdim) and var(x, dim, correction=)."""
    if isinstance(dim, bool):  # var(x, False): the old `unbiased` positional
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise ValueError("var/std: give unbiased or correction, not both")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return dim, correction


class TensorMathMixin:
    """Operators and math methods of `Tensor` (PyTorch's names and semantics)."""

    __slots__ = ()
    __hash__ = object.__hash__  # __eq__ below is elementwise; identity hashing stays

    # ---- operators: `other` may be a Tensor, an array or a Python number ----
    def __add__(self, other) -> Self:
        return apply_binary(_ADD, self, other)

    def __radd__(self, other) -> Self:
        return apply_primitive(_ADD, (other, self), NO_PARAMS, 2)

    def __sub__(self, other) -> Self:
        return apply_binary(_SUB, self, other)

    def __rsub__(self, other) -> Self:
        return apply_primitive(_SUB, (other, self), NO_PARAMS, 2)

    def __mul__(self, other) -> Self:
        return apply_binary(_MUL, self, other)

    def __rmul__(self, other) -> Self:
        return apply_primitive(_MUL, (other, self), NO_PARAMS, 2)

    def __truediv__(self, other) -> Self:
        return apply_binary(_DIV, self, other)

    def __rtruediv__(self, other) -> Self:
        return apply_primitive(_DIV, (other, self), NO_PARAMS, 2)

    def __pow__(self, other) -> Self:
        return apply_binary(_POW, self, other)

    def __rpow__(self, other) -> Self:
        return apply_primitive(_POW, (other, self), NO_PARAMS, 2)

    def __matmul__(self, other) -> Self:
        return apply_binary(_MATMUL, self, other)

    def __rmatmul__(self, other) -> Self:
        return apply_primitive(_MATMUL, (other, self), NO_PARAMS, 2)

    def __gt__(self, other) -> Self:
        return apply_binary(_GT, self, other)

    def __lt__(self, other) -> Self:
        return apply_binary(_LT, self, other)

    def __ge__(self, other) -> Self:
        return apply_binary(_GE, self, other)

    def __le__(self, other) -> Self:
        return apply_binary(_LE, self, other)

    def __eq__(self, other) -> Self:  # type: ignore[override]
        return apply_binary(_EQ, self, other)

    def __ne__(self, other) -> Self:  # type: ignore[override]
        return apply_binary(_NE, self, other)

    def __and__(self, other) -> Self:
        return apply_binary(_AND, self, other)

    def __or__(self, other) -> Self:
        return apply_binary(_OR, self, other)

    def __neg__(self) -> Self:
        return apply_unary(_NEG, self)

    def __pos__(self) -> Self:
        return self

    def __abs__(self) -> Self:
        return apply_unary(_ABS, self)

    def __invert__(self) -> Self:
        return apply_unary(_NOT, self)

    # ---- named binary ops ---------------------------------------------------
    def add(self, other) -> Self:
        """self + other, broadcast."""
        return apply_binary(_ADD, self, other)

    def sub(self, other) -> Self:
        """self - other, broadcast."""
        return apply_binary(_SUB, self, other)

    def mul(self, other) -> Self:
        """self * other, broadcast."""
        return apply_binary(_MUL, self, other)

    def div(self, other) -> Self:
        """self / other, broadcast."""
        return apply_binary(_DIV, self, other)

    def pow(self, other) -> Self:
        """self ** other, broadcast."""
        return apply_binary(_POW, self, other)

    def maximum(self, other) -> Self:
        """The elementwise larger of self and other."""
        return apply_binary(_MAXIMUM, self, other)

    def minimum(self, other) -> Self:
        """The elementwise smaller of self and other."""
        return apply_binary(_MINIMUM, self, other)

    def matmul(self, other) -> Self:
        """Matrix product (batched and 1-d cases as in NumPy/PyTorch)."""
        return apply_binary(_MATMUL, self, other)

    def mm(self, mat2) -> Self:
        """2-d matrix product."""
        other_shape = np.shape(mat2)
        if self.ndim != 2 or len(other_shape) != 2:
            raise ShapeError(f"mm: expects 2-d tensors, got {self.shape} and {other_shape}")
        return apply_binary(_MATMUL, self, mat2)

    def bmm(self, mat2) -> Self:
        """Batched matrix product of (B, N, M) and (B, M, P) tensors."""
        return A.bmm(self, as_tensor(mat2))

    # ---- elementwise functions ------------------------------------------------
    def neg(self) -> Self:
        """-self."""
        return apply_unary(_NEG, self)

    def abs(self) -> Self:
        """Elementwise absolute value."""
        return apply_unary(_ABS, self)

    def exp(self) -> Self:
        """Elementwise e ** self."""
        return apply_unary(_EXP, self)

    def log(self) -> Self:
        """Elementwise natural logarithm."""
        return apply_unary(_LOG, self)

    def sqrt(self) -> Self:
        """Elementwise square root."""
        return apply_unary(_SQRT, self)

    def tanh(self) -> Self:
        """Elementwise hyperbolic tangent."""
        return apply_unary(_TANH, self)

    def sigmoid(self) -> Self:
        """Elementwise logistic sigmoid, 1 / (1 + exp(-self))."""
        return apply_unary(_SIGMOID, self)

    def relu(self) -> Self:
        """Elementwise max(self, 0)."""
        return apply_unary(_RELU, self)

    def sign(self) -> Self:
        """Elementwise sign: -1, 0 or 1."""
        return apply_unary(_SIGN, self)

    def log1p(self) -> Self:
        """Elementwise log(1 + self), accurate near 0."""
        return apply_unary(_LOG1P, self)

    def expm1(self) -> Self:
        """Elementwise exp(self) - 1, accurate near 0."""
        return apply_unary(_EXPM1, self)

    def sin(self) -> Self:
        """Elementwise sine."""
        return apply_unary(_SIN, self)

    def cos(self) -> Self:
        """Elementwise cosine."""
        return apply_unary(_COS, self)

    def clamp(self, min=None, max=None) -> Self:
        """Clamp every element into [min, max]; either bound may be None."""
        return A.clip(self, min, max)

    def clip(self, min=None, max=None) -> Self:
        """Clamp every element into [min, max] (same as `clamp`)."""
        return A.clip(self, min, max)

    # ---- reductions -----------------------------------------------------------
    def sum(self, dim=None, keepdim: bool = False) -> Self:
        """Sum of all elements, or along `dim` (an int or tuple), keeping reduced dims
        if `keepdim`."""
        return A.sum(self, dim, keepdim)

    def mean(self, dim=None, keepdim: bool = False) -> Self:
        """Mean of all elements, or along `dim` (an int or tuple), keeping reduced dims
        if `keepdim`."""
        return A.mean(self, dim, keepdim)

    def max(self, dim=None, keepdim: bool = False):
        """The max of all elements, or (values, indices) along `dim`, as torch.max."""
        values = A.max(self, dim, keepdim)
        if dim is None:
            return values
        return values, wrap(_arg_index(np.argmax, self._data, dim, keepdim))

    def min(self, dim=None, keepdim: bool = False):
        """The min of all elements, or (values, indices) along `dim`, as torch.min."""
        values = A.min(self, dim, keepdim)
        if dim is None:
            return values
        return values, wrap(_arg_index(np.argmin, self._data, dim, keepdim))

    def argmax(self, dim=None, keepdim: bool = False) -> Self:
        """Index of the largest value along dim (None: in the flattened tensor), int64."""
        return A.argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim: bool = False) -> Self:
        """Index of the smallest value along dim (None: in the flattened tensor), int64."""
        return A.argmin(self, dim, keepdim)

    def logsumexp(self, dim=None, keepdim: bool = False) -> Self:
        """log(sum(exp(self))) over dim, computed without overflow."""
        return A.logsumexp(self, dim, keepdim)

    def var(self, dim=None, unbiased=None, keepdim: bool = False, *,
            correction=None) -> Self:
        """Variance over dim, dividing by N - correction (default 1: unbiased)."""
        dim, correction = variance_correction(dim, unbiased, correction)
        return A.var(self, dim, keepdim, correction)

    def std(self, dim=None, unbiased=None, keepdim: bool = False, *,
            correction=None) -> Self:
        """Standard deviation over dim: sqrt(var(...)) with the same arguments."""
        dim, correction = variance_correction(dim, unbiased, correction)
        return A.std(self, dim, keepdim, correction)

    def softmax(self, dim: int = -1) -> Self:
        """Softmax along `dim`: exp(x) normalised to sum to 1."""
        return A.softmax(self, dim)

    def log_softmax(self, dim: int = -1) -> Self:
        """Log of the softmax along `dim`, computed stably."""
        return A.log_softmax(self, dim)


def _arg_index(arg_fn, data: np.ndarray, dim: int, keepdim: bool) -> np.ndarray:
    """The indices part of max/min along `dim` (kept as a size-1 dim if `keepdim`)."""
    idx = arg_fn(data, axis=dim)
    return np.expand_dims(idx, dim) if keepdim else idx
