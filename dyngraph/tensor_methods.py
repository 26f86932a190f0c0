"""Tensor operators and methods (PyTorch names), attached to the class.

Kept apart from tensor.py so the class core stays small; every method is a
thin call into `functions` or an in-place update.
"""

from __future__ import annotations

import numpy as np

from shared_ops import REGISTRY as P
from shared_ops import DTypeError, GradientError, ShapeError
from shared_ops import normalize_index as _normalize_index
from shared_ops.dtypes import CHECKED_TYPES, check_operand

from . import functions as F
from .grad_mode import GRAD_MODE
from .hooks import register_hook
from .node import bump_version
from .tensor import NO_PARAMS, Tensor, apply_primitive


def _bin(name, reflected=False):
    prim = P[name]
    if reflected:
        def method(self, other):
            return apply_primitive(prim, (other, self), NO_PARAMS, 2)
    else:
        def method(self, other):
            return apply_primitive(prim, (self, other), NO_PARAMS, 2)
    return method


def _shape_args(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


def _inplace(self: Tensor, prim, other) -> Tensor:
    """self <- prim(self, other), bumping the version counter."""
    other_grad = isinstance(other, Tensor) and other._requires_grad
    if GRAD_MODE.enabled and (self._requires_grad or other_grad):
        if self.grad_fn is None and self._requires_grad:
            raise GradientError(
                f"in-place '{prim.name}' on a leaf tensor that requires grad: wrap the "
                "update in `with dg.no_grad():`")
        return _inplace_recorded(self, lambda old: apply_primitive(prim, (old, other), {}))
    other_data = other._data if isinstance(other, Tensor) else other
    try:
        prim.impl(self._data, other_data, out=self._data)
    except TypeError as exc:
        raise DTypeError(f"in-place {prim.name}: {exc}") from None
    except ValueError as exc:
        raise ShapeError(f"in-place {prim.name}: {exc}; shapes {self.shape} and "
                         f"{np.shape(other_data)}") from None
    bump_version(self)
    return self


def _inplace_recorded(self: Tensor, compute) -> Tensor:
    """In-place update of a tensor on the tape: the old value is snapshotted."""
    old = Tensor.__new__(Tensor)
    old._data, old._requires_grad, old.grad = self._data.copy(), self._requires_grad, None
    old._edge, old._version = self._edge, [0, 0]
    result = compute(old)
    if result.shape != self.shape:
        raise ShapeError(f"in-place result shape {result.shape} differs from {self.shape}")
    np.copyto(self._data, result._data, casting="same_kind")
    bump_version(self)
    self._edge = result._edge
    self._requires_grad = result._requires_grad
    return self


def _setitem(self: Tensor, index, value) -> None:
    index = _normalize_index(F._index_data(index))
    value_grad = isinstance(value, Tensor) and value._requires_grad
    if GRAD_MODE.enabled and (self._requires_grad or value_grad):
        if self.grad_fn is None and self._requires_grad:
            raise GradientError("index assignment on a leaf tensor that requires grad: wrap it "
                                "in `with dg.no_grad():`")
        mask = np.zeros(self.shape, dtype=bool)
        mask[index] = True

        def compute(old):
            part = F.broadcast_to(F.cast(value, self.dtype), np.shape(self._data[index]))
            placed = apply_primitive(P["getitem_grad"], (part, old), {"index": index})
            return F.where(mask, placed, old)
        _inplace_recorded(self, compute)
        return
    self._data[index] = value._data if isinstance(value, Tensor) else value
    bump_version(self)


def _fill_(self, value):
    """In place: set every element to `value`; returns self."""
    if GRAD_MODE.enabled and self._requires_grad:
        if self.grad_fn is None:
            raise GradientError("in-place 'fill_' on a leaf tensor that requires grad: wrap "
                                "the update in `with dg.no_grad():`")
        keep_none = np.zeros(self.shape, dtype=bool)  # the old value gets zero gradient
        return _inplace_recorded(self, lambda old: F.where(keep_none, old, value))
    self._data[...] = value
    bump_version(self)
    return self


def _zero_(self):
    """In place: set every element to zero; returns self."""
    return _fill_(self, 0)


def _copy_(self, src):
    """In place: copy `src` (broadcast, cast to self's dtype) into self; returns self."""
    if not isinstance(src, Tensor):
        check_operand("copy_", src if type(src) in CHECKED_TYPES else np.asarray(src))
    src_grad = isinstance(src, Tensor) and src._requires_grad
    if GRAD_MODE.enabled and (self._requires_grad or src_grad):
        if self.grad_fn is None and self._requires_grad:
            raise GradientError("in-place 'copy_' into a leaf tensor that requires grad: wrap "
                                "the update in `with dg.no_grad():`")
        return _inplace_recorded(self, lambda old: F.broadcast_to(F.cast(src, self.dtype),
                                                                  self.shape))
    np.copyto(self._data, src._data if isinstance(src, Tensor) else np.asarray(src))
    bump_version(self)
    return self


def _max(self, dim=None, keepdim=False):
    """The max of all elements, or (values, indices) along `dim`, as torch.max."""
    return F.max(self, dim, keepdim)


def _min(self, dim=None, keepdim=False):
    """The min of all elements, or (values, indices) along `dim`, as torch.min."""
    return F.min(self, dim, keepdim)


METHODS = {
    "__add__": _bin("add"), "__radd__": _bin("add", True),
    "__sub__": _bin("sub"), "__rsub__": _bin("sub", True),
    "__mul__": _bin("mul"), "__rmul__": _bin("mul", True),
    "__truediv__": _bin("div"), "__rtruediv__": _bin("div", True),
    "__pow__": _bin("pow"), "__rpow__": _bin("pow", True),
    "__matmul__": _bin("matmul"), "__rmatmul__": _bin("matmul", True),
    "__gt__": _bin("greater"), "__lt__": _bin("less"), "__ge__": _bin("greater_equal"),
    "__le__": _bin("less_equal"), "__eq__": _bin("equal"), "__ne__": _bin("not_equal"),
    "__and__": _bin("logical_and"), "__or__": _bin("logical_or"),
    "__neg__": lambda self: apply_primitive(P["neg"], (self,), NO_PARAMS, 2),
    "__pos__": lambda self: self,
    "__abs__": lambda self: F.abs(self),
    "__invert__": lambda self: F.logical_not(self),
    "__getitem__": F.getitem,
    "__setitem__": _setitem,
    "__iadd__": lambda self, o: _inplace(self, P["add"], o),
    "__isub__": lambda self, o: _inplace(self, P["sub"], o),
    "__imul__": lambda self, o: _inplace(self, P["mul"], o),
    "__itruediv__": lambda self, o: _inplace(self, P["div"], o),
    "add_": lambda self, o: _inplace(self, P["add"], o),
    "sub_": lambda self, o: _inplace(self, P["sub"], o),
    "mul_": lambda self, o: _inplace(self, P["mul"], o),
    "div_": lambda self, o: _inplace(self, P["div"], o),
    "zero_": _zero_, "fill_": _fill_, "copy_": _copy_,
    "add": F.add, "sub": F.sub, "mul": F.mul, "div": F.div, "pow": F.pow,
    "matmul": F.matmul, "mm": F.mm, "maximum": F.maximum, "minimum": F.minimum,
    "exp": F.exp, "log": F.log, "sqrt": F.sqrt, "abs": F.abs, "tanh": F.tanh,
    "sigmoid": F.sigmoid, "relu": F.relu, "neg": F.neg, "sign": F.sign,
    "clamp": F.clamp, "clip": F.clamp,
    "sum": F.sum, "mean": F.mean, "max": _max, "min": _min, "argmax": F.argmax,
    "softmax": F.softmax, "log_softmax": F.log_softmax,
    "t": F.t, "transpose": F.transpose, "squeeze": F.squeeze, "unsqueeze": F.unsqueeze,
    "flatten": F.flatten, "clone": F.clone,
    "reshape": lambda self, *shape: F.reshape(self, _shape_args(shape)),
    "view": lambda self, *shape: F.reshape(self, _shape_args(shape)),
    "permute": lambda self, *dims: F.permute(self, _shape_args(dims)),
    "expand": lambda self, *shape: F.broadcast_to(self, tuple(
        s if n == -1 else n for n, s in zip(_shape_args(shape), (
            (1,) * (len(_shape_args(shape)) - self.ndim) + self.shape))) ),
    "expand_as": lambda self, other: F.broadcast_to(self, other.shape),
    "view_as": lambda self, other: F.reshape(self, other.shape),
    "reshape_as": lambda self, other: F.reshape(self, other.shape),
    "to": lambda self, dtype: self if np.dtype(dtype) == self.dtype else F.cast(self, dtype),
    "type": lambda self, dtype: F.cast(self, dtype),
    "float": lambda self: self.to(np.float32),
    "double": lambda self: self.to(np.float64),
    "long": lambda self: self.to(np.int64),
    "int": lambda self: self.to(np.int32),
    "bool": lambda self: self.to(np.bool_),
    "contiguous": lambda self: self,
    "cpu": lambda self: self,
}

_METHOD_DOCS = {
    "add_": "In place: self += other (broadcast to self's shape); returns self.",
    "sub_": "In place: self -= other (broadcast to self's shape); returns self.",
    "mul_": "In place: self *= other (broadcast to self's shape); returns self.",
    "div_": "In place: self /= other (broadcast to self's shape); returns self.",
    "reshape": "The same elements in a new shape, given as ints or one tuple (one may be -1).",
    "view": "The same elements in a new shape, as `reshape` (ints or one tuple).",
    "permute": "Reorder the dims, given as ints or one tuple.",
    "expand": "Broadcast to a larger size (ints or one tuple; -1 keeps a dim) as a new tensor.",
    "expand_as": "Broadcast to `other`'s shape.",
    "view_as": "The same elements in `other`'s shape.",
    "reshape_as": "The same elements in `other`'s shape.",
    "type": "This tensor cast to `dtype`.",
    "float": "This tensor as float32.",
    "double": "This tensor as float64.",
    "long": "This tensor as int64.",
    "int": "This tensor as int32.",
    "bool": "This tensor as bool.",
    "contiguous": "This tensor itself (storage is always contiguous).",
    "cpu": "This tensor itself (dyngraph tensors live on the CPU).",
}
for _name, _doc in _METHOD_DOCS.items():
    METHODS[_name].__doc__ = _doc

for _name, _fn in METHODS.items():
    setattr(Tensor, _name, _fn)
Tensor.T = property(lambda self: F.permute(self, tuple(range(self.ndim))[::-1]),
                    doc="The tensor with all dims reversed (the transpose of a matrix).")
Tensor.mT = property(lambda self: F.transpose(self, -2, -1),
                     doc="The tensor with its last two dims swapped (batched matrix transpose).")


class device:  # noqa: N801  (torch.device's name)
    """A device name as torch.device: dyngraph has the CPU only (`device("cpu")`)."""

    def __init__(self, type: str, index: int | None = None) -> None:
        kind, _, number = str(type).partition(":")
        self.type = kind
        self.index = int(number) if number else index
        _check_device(self)

    def __eq__(self, other) -> bool:
        other_type = getattr(other, "type", other)
        return isinstance(other_type, str) and other_type.split(":")[0] == self.type

    def __hash__(self) -> int:
        return hash(self.type)

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        return f"device(type='{self.type}')"



def _check_device(device) -> None:
    """dyngraph computes on the CPU only: 'cpu' (or 'cpu:0') is accepted, others refused."""
    kind = getattr(device, "type", device)
    if not isinstance(kind, str) or kind.split(":")[0] != "cpu":
        raise ValueError(f"to: dyngraph tensors live on the CPU; device {device!r} is not "
                         "available (use 'cpu', or staticgraph's cuda backend)")


def _to(self, *args, dtype=None, device=None, non_blocking: bool = False,
        copy: bool = False) -> Tensor:
    """`to(dtype)`, `to(device, dtype=None)`, `to(other)`: PyTorch's forms.

    The device must be the CPU (a no-op); a new dtype casts (recorded on the
    tape); `copy=True` always returns a new tensor.
    """
    for arg in args:
        if isinstance(arg, Tensor):
            dtype = arg.dtype
        elif isinstance(arg, str) or hasattr(arg, "type"):
            device = arg
        else:
            dtype = arg
    if device is not None:
        _check_device(device)
    if dtype is not None and np.dtype(dtype) != self.dtype:
        return F.cast(self, dtype)
    return F.clone(self) if copy else self


def _register_hook(self, hook):
    """Call `hook(grad)` with this tensor's gradient during backward; a returned
    Tensor replaces the gradient. Returns a handle with `.remove()`."""
    return register_hook(self, hook)


Tensor.to = _to
Tensor.cpu = METHODS["cpu"]
CPU = device("cpu")
Tensor.device = property(lambda self: CPU, doc="The tensor's device: always the CPU.")
Tensor.is_cuda = property(lambda self: False, doc="False: dyngraph tensors live on the CPU.")
Tensor.register_hook = _register_hook
