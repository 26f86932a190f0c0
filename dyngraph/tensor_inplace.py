"""In-place tensor updates: `+=`, `add_`, `fill_`, `copy_`, `x[i] = v`, ...

`TensorInplaceMixin` is one of the bases of `dyngraph.Tensor`. Outside the
tape an update writes the array and bumps the version counter (so a node
that saved the old value refuses to run its backward). On the tape the old
value is snapshotted and the update recorded as an op on it, as PyTorch
does; a leaf that requires grad may not be changed there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

import shared_ops.api as A
from shared_ops import REGISTRY as P
from shared_ops import DTypeError, GradientError, ShapeError, normalize_index
from shared_ops.dtypes import CHECKED_TYPES, check_operand

from .dispatch import TensorBase, active_trace_state, apply_primitive, as_tensor, wrap
from .grad_mode import GRAD_MODE
from .node import bump_version
from .tensor_shape import index_arrays

if TYPE_CHECKING:
    from typing_extensions import Self

_ADD, _SUB, _MUL, _DIV = P["add"], P["sub"], P["mul"], P["div"]
_GETITEM_GRAD = P["getitem_grad"]


def _inplace(self, prim, other):
    """self <- prim(self, other), bumping the version counter."""
    trace = active_trace_state()
    if trace is not None:  # inside dg.compile: the update is recorded in the graph
        return trace.inplace(self, f"{prim.name}_",
                             lambda old: apply_primitive(prim, (old, other), {}))
    other_grad = isinstance(other, TensorBase) and other._requires_grad
    if GRAD_MODE.enabled and (self._requires_grad or other_grad):
        if self.grad_fn is None and self._requires_grad:
            raise GradientError(
                f"in-place '{prim.name}' on a leaf tensor that requires grad: wrap the "
                "update in `with dg.no_grad():`")
        return _inplace_recorded(self, lambda old: apply_primitive(prim, (old, other), {}))
    other_data = other._data if isinstance(other, TensorBase) else other
    try:
        prim.impl(self._data, other_data, out=self._data)
    except TypeError as exc:
        raise DTypeError(f"in-place {prim.name}: {exc}") from None
    except ValueError as exc:
        raise ShapeError(f"in-place {prim.name}: {exc}; shapes {self.shape} and "
                         f"{np.shape(other_data)}") from None
    bump_version(self)
    return self


def _inplace_recorded(self, compute):
    """In-place update of a tensor on the tape: the old value is snapshotted."""
    old = wrap(self._data.copy(), self._requires_grad)
    old._edge = self._edge
    result = compute(old)
    if result.shape != self.shape:
        raise ShapeError(f"in-place result shape {result.shape} differs from {self.shape}")
    np.copyto(self._data, result._data, casting="same_kind")
    bump_version(self)
    self._edge = result._edge
    self._requires_grad = result._requires_grad
    return self


def _placed(self, index, value):
    """old -> old with `value` written at `index`, as tensor ops (for a trace)."""
    shape = self.shape
    mask = np.zeros(shape, dtype=bool)
    mask[index] = True
    part_shape = np.broadcast_to(np.zeros((), dtype=bool), shape)[index].shape

    def compute(old):
        part = A.broadcast_to(A.cast(as_tensor(value), self.dtype), part_shape)
        placed = apply_primitive(_GETITEM_GRAD, (part, old), {"index": index})
        return A.where(mask, placed, old)
    return compute


class TensorInplaceMixin:
    """The in-place methods of `Tensor` (their names end in `_`, as PyTorch's)."""

    __slots__ = ()

    def __iadd__(self, other) -> Self:
        return _inplace(self, _ADD, other)

    def __isub__(self, other) -> Self:
        return _inplace(self, _SUB, other)

    def __imul__(self, other) -> Self:
        return _inplace(self, _MUL, other)

    def __itruediv__(self, other) -> Self:
        return _inplace(self, _DIV, other)

    def add_(self, other) -> Self:
        """In place: self += other (broadcast to self's shape); returns self."""
        return _inplace(self, _ADD, other)

    def sub_(self, other) -> Self:
        """In place: self -= other (broadcast to self's shape); returns self."""
        return _inplace(self, _SUB, other)

    def mul_(self, other) -> Self:
        """In place: self *= other (broadcast to self's shape); returns self."""
        return _inplace(self, _MUL, other)

    def div_(self, other) -> Self:
        """In place: self /= other (broadcast to self's shape); returns self."""
        return _inplace(self, _DIV, other)

    def fill_(self, value) -> Self:
        """In place: set every element to `value`; returns self."""
        trace = active_trace_state()
        if trace is not None:
            keep_none = trace.constant(np.zeros((), dtype=bool))
            filled = A.cast(value, self.dtype) if isinstance(value, TensorBase) else \
                trace.constant(np.asarray(value, dtype=self.dtype))
            return trace.inplace(self, "fill_", lambda old: A.where(keep_none, old, filled))
        if GRAD_MODE.enabled and self._requires_grad:
            if self.grad_fn is None:
                raise GradientError("in-place 'fill_' on a leaf tensor that requires grad: "
                                    "wrap the update in `with dg.no_grad():`")
            keep_none = np.zeros(self.shape, dtype=bool)  # the old value gets zero gradient
            return _inplace_recorded(self, lambda old: A.where(keep_none, old, value))
        self._data[...] = value
        bump_version(self)
        return self

    def zero_(self) -> Self:
        """In place: set every element to zero; returns self."""
        return self.fill_(0)

    def copy_(self, src) -> Self:
        """In place: copy `src` (broadcast, cast to self's dtype) into self; returns self."""
        if not isinstance(src, TensorBase):
            check_operand("copy_", src if type(src) in CHECKED_TYPES else np.asarray(src))
        src_grad = isinstance(src, TensorBase) and src._requires_grad
        trace = active_trace_state()
        if trace is not None:
            shape = self.shape
            return trace.inplace(
                self, "copy_", lambda old: A.broadcast_to(A.cast(as_tensor(src), self.dtype),
                                                          shape))
        if GRAD_MODE.enabled and (self._requires_grad or src_grad):
            if self.grad_fn is None and self._requires_grad:
                raise GradientError("in-place 'copy_' into a leaf tensor that requires "
                                    "grad: wrap the update in `with dg.no_grad():`")
            return _inplace_recorded(
                self, lambda old: A.broadcast_to(A.cast(as_tensor(src), self.dtype), self.shape))
        np.copyto(self._data, src._data if isinstance(src, TensorBase) else np.asarray(src))
        bump_version(self)
        return self

    def __setitem__(self, index, value) -> None:
        index = normalize_index(index_arrays(index))
        value_grad = isinstance(value, TensorBase) and value._requires_grad
        trace = active_trace_state()
        if trace is not None:
            trace.inplace(self, "__setitem__", _placed(self, index, value))
            return
        if GRAD_MODE.enabled and (self._requires_grad or value_grad):
            if self.grad_fn is None and self._requires_grad:
                raise GradientError("index assignment on a leaf tensor that requires grad: "
                                    "wrap it in `with dg.no_grad():`")
            mask = np.zeros(self.shape, dtype=bool)
            mask[index] = True

            def compute(old):
                part = A.broadcast_to(A.cast(as_tensor(value), self.dtype),
                                      np.shape(self._data[index]))
                placed = apply_primitive(_GETITEM_GRAD, (part, old), {"index": index})
                return A.where(mask, placed, old)
            _inplace_recorded(self, compute)
            return
        self._data[index] = value._data if isinstance(value, TensorBase) else value
        bump_version(self)
