"""Tensor shape methods, indexing and dtype conversions (PyTorch's names).

`TensorShapeMixin` is one of the bases of `dyngraph.Tensor`. Each method
normalises its arguments as PyTorch does and hands the shared primitive to
the dispatcher (directly, or through `shared_ops.api`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

import shared_ops.api as A
from shared_ops import REGISTRY as P
from shared_ops import IndexingError, ShapeError, normalize_index
from shared_ops.shapes import at_user, normalize_axes, normalize_axis

from .dispatch import NO_PARAMS, TensorBase, apply_primitive, as_tensor, run_primitive

if TYPE_CHECKING:
    from typing_extensions import Self

_RESHAPE, _SQUEEZE, _BROADCAST_TO = P["reshape"], P["squeeze"], P["broadcast_to"]
_GETITEM, _MUL = P["getitem"], P["mul"]


def shape_arguments(shape: tuple) -> tuple:
    """`(2, 3)` or `((2, 3),)` (PyTorch accepts both spellings) -> `(2, 3)`."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return shape


def index_arrays(index):
    """`index` with each Tensor in it replaced by its array."""
    if isinstance(index, TensorBase):
        return index._data
    if isinstance(index, tuple):
        return tuple(i._data if isinstance(i, TensorBase) else i for i in index)
    return index


class TensorShapeMixin:
    """Reshaping, permuting, indexing and converting methods of `Tensor`."""

    __slots__ = ()

    def reshape(self, *shape) -> Self:
        """The same elements in a new shape, given as ints or one tuple (one may be -1)."""
        shape = tuple(int(d) for d in shape_arguments(shape))
        return apply_primitive(_RESHAPE, (self,), {"shape": shape})

    def view(self, *shape) -> Self:
        """The same elements in a new shape, as `reshape` (ints or one tuple)."""
        shape = tuple(int(d) for d in shape_arguments(shape))
        return apply_primitive(_RESHAPE, (self,), {"shape": shape})

    def view_as(self, other) -> Self:
        """The same elements in `other`'s shape."""
        return self.reshape(other.shape)

    def reshape_as(self, other) -> Self:
        """The same elements in `other`'s shape."""
        return self.reshape(other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Self:
        """Flatten dims `start_dim`..`end_dim` into one (a 0-d tensor becomes 1-d)."""
        if self.ndim == 0:
            return self.reshape((1,))
        s = normalize_axis("flatten", start_dim, self.ndim)
        e = normalize_axis("flatten", end_dim, self.ndim)
        return self.reshape(self.shape[:s] + (-1,) + self.shape[e + 1:])

    def permute(self, *dims) -> Self:
        """Reorder the dims, given as ints or one tuple: output dim i is input dim dims[i]."""
        return A.transpose(self, shape_arguments(dims))

    def transpose(self, dim0: int, dim1: int) -> Self:
        """Swap dims `dim0` and `dim1`."""
        return A.swapaxes(self, dim0, dim1)

    def t(self) -> Self:
        """Transpose a tensor with at most 2 dims (0-d and 1-d are returned as is)."""
        if self.ndim > 2:
            raise ShapeError(f"t: expects a tensor with <= 2 dims, got {self.ndim}")
        return self if self.ndim < 2 else A.swapaxes(self, 0, 1)

    @property
    def T(self) -> Self:  # noqa: N802  (PyTorch's name)
        """The tensor with all dims reversed (the transpose of a matrix)."""
        return A.transpose(self, tuple(range(self.ndim))[::-1])

    @property
    def mT(self) -> Self:  # noqa: N802  (PyTorch's name)
        """The tensor with its last two dims swapped (batched matrix transpose)."""
        return A.swapaxes(self, -2, -1)

    def squeeze(self, dim=None) -> Self:
        """Remove size-1 dims (all of them, or those in `dim`; a dim of another size is
        kept)."""
        if dim is None:
            axes = tuple(i for i, d in enumerate(self.shape) if d == 1)
        else:
            axes = normalize_axes("squeeze", dim, self.ndim)
            axes = tuple(a for a in axes if self.shape[a] == 1)  # PyTorch: no-op otherwise
        return apply_primitive(_SQUEEZE, (self,), {"axis": axes})

    def unsqueeze(self, dim: int) -> Self:
        """Insert a size-1 dim at position `dim`."""
        return A.expand_dims(self, dim)

    def expand(self, *shape) -> Self:
        """Broadcast to a larger size (ints or one tuple; -1 keeps a dim) as a new tensor."""
        shape = shape_arguments(shape)
        current = (1,) * (len(shape) - self.ndim) + self.shape
        target = tuple(s if n == -1 else n for n, s in zip(shape, current))
        return apply_primitive(_BROADCAST_TO, (self,), {"shape": target})

    def expand_as(self, other) -> Self:
        """Broadcast to `other`'s shape."""
        return apply_primitive(_BROADCAST_TO, (self,), {"shape": tuple(other.shape)})

    def __getitem__(self, index) -> Self:
        if type(index) is int or type(index) is slice:  # the common case, already canonical
            index = (index,)
        else:
            index = normalize_index(index_arrays(index))
        if not self._requires_grad:  # nothing to record (a batch or a time step of data)
            return run_primitive(_GETITEM, (self,), {"index": index})
        return apply_primitive(_GETITEM, (self,), {"index": index}, 2)

    def gather(self, dim: int, index) -> Self:
        """out[i][j] = self[i][index[i][j]] for dim 1 (PyTorch's gather); the gradient
        scatter-adds (repeated indices accumulate)."""
        return A.gather(self, as_tensor(index), dim)

    def index_select(self, dim: int, index) -> Self:
        """The entries of self at a 1-d index along dim."""
        index = as_tensor(index)
        if index.ndim > 1:
            raise IndexingError(f"index_select: index must be 0-d or 1-d, got shape "
                                f"{index.shape}{at_user()}")
        return A.take(self, index, dim)

    def split(self, split_size_or_sections, dim: int = 0) -> tuple:
        """Pieces along dim: an int gives pieces of that size (the last may be smaller),
        a list gives pieces of those sizes; a tuple of tensors."""
        axis = normalize_axis("split", dim, self.ndim)
        size = self.shape[axis]
        if isinstance(split_size_or_sections, (int, np.integer)):
            step = int(split_size_or_sections)
            if step < 1 and size:
                raise ShapeError(f"split: split_size must be >= 1, got {step}{at_user()}")
            sizes = [min(step, size - start) for start in range(0, size, step)] if size else [0]
        else:
            sizes = list(split_size_or_sections)
        return tuple(A.split(self, sizes, axis))

    def clone(self) -> Self:
        """A differentiable copy."""
        return apply_primitive(_MUL, (self, 1), NO_PARAMS, 2)

    def contiguous(self) -> Self:
        """This tensor itself (storage is always contiguous)."""
        return self

    # ---- dtype conversions ------------------------------------------------------
    def type(self, dtype) -> Self:
        """This tensor cast to `dtype`."""
        return A.cast(self, dtype)

    def float(self) -> Self:
        """This tensor as float32."""
        return self.to(np.float32)

    def double(self) -> Self:
        """This tensor as float64."""
        return self.to(np.float64)

    def long(self) -> Self:
        """This tensor as int64."""
        return self.to(np.int64)

    def int(self) -> Self:
        """This tensor as int32."""
        return self.to(np.int32)

    def bool(self) -> Self:
        """This tensor as bool."""
        return self.to(np.bool_)
