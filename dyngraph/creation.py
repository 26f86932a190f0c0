"""Tensor factories (dg.tensor, zeros, randn, ...) and the seeded generator."""

from __future__ import annotations

import numpy as np

from shared_ops.dtypes import supported_dtype

from .dispatch import DEFAULT_DTYPE, TRACE_HOOK, as_array, wrap
from .tensor import Tensor

_RNG = [np.random.default_rng(0)]


def manual_seed(seed: int) -> np.random.Generator:
    """Seed dg.randn / dg.rand / nn initialisers (one NumPy Generator)."""
    _RNG[0] = np.random.default_rng(seed)
    return _RNG[0]


def generator() -> np.random.Generator:
    """The NumPy Generator behind dg.randn / dg.rand (reseeded by `manual_seed`)."""
    return _RNG[0]


def set_default_dtype(dtype) -> None:
    """Dtype used for Python floats and factories (float32 unless changed)."""
    DEFAULT_DTYPE[0] = np.dtype(dtype)


def get_default_dtype() -> np.dtype:
    """The dtype used for Python floats and factories (float32 by default)."""
    return DEFAULT_DTYPE[0]


def _shape(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(int(d) for d in size[0])
    return tuple(int(d) for d in size)


def _make(data: np.ndarray, requires_grad: bool) -> Tensor:
    t = wrap(data)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of `data`."""
    return _make(np.array(as_array(data, dtype), copy=True), requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with `array`."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects an ndarray, got {type(array).__name__}")
    supported_dtype("from_numpy", array.dtype)
    return wrap(array)


def _dtype(dtype):
    return DEFAULT_DTYPE[0] if dtype is None else np.dtype(dtype)


def zeros(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros of the given size (ints or one tuple), default dtype unless given."""
    return _make(np.zeros(_shape(size), _dtype(dtype)), requires_grad)


def ones(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones of the given size (ints or one tuple), default dtype unless given."""
    return _make(np.ones(_shape(size), _dtype(dtype)), requires_grad)


def empty(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor of the given size (ints or one tuple)."""
    return _make(np.empty(_shape(size), _dtype(dtype)), requires_grad)


def full(size, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of shape `size` filled with `fill_value`."""
    return _make(np.full(tuple(size), fill_value, _dtype(dtype)), requires_grad)


def _shape_dtype(t) -> tuple:
    """Shape and dtype of a tensor (its array is not read) or of array-like data."""
    if isinstance(t, Tensor):
        return t.shape, t.dtype
    return np.shape(t), np.asarray(t).dtype


def zeros_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros with the shape (and, unless `dtype` is given, the dtype) of `t`."""
    shape, own = _shape_dtype(t)
    return zeros(*shape, dtype=dtype or own, requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones with the shape (and, unless `dtype` is given, the dtype) of `t`."""
    shape, own = _shape_dtype(t)
    return ones(*shape, dtype=dtype or own, requires_grad=requires_grad)


def _refuse_while_tracing(name: str) -> None:
    """A draw inside `dg.compile` would be frozen into the graph: the tracer refuses it."""
    hook = TRACE_HOOK[0]
    if hook is not None:
        hook.__self__.refuse_random(name)


def randn(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Standard normal draws from the generator seeded by manual_seed."""
    _refuse_while_tracing("randn")
    data = _RNG[0].standard_normal(_shape(size)).astype(_dtype(dtype), copy=False)
    return _make(data, requires_grad)


def rand(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Uniform [0, 1) draws from the generator seeded by manual_seed."""
    _refuse_while_tracing("rand")
    data = _RNG[0].random(_shape(size)).astype(_dtype(dtype), copy=False)
    return _make(data, requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """Values from `start` to `end` (exclusive) by `step`; `arange(n)` counts 0..n-1."""
    if end is None:
        start, end = 0, start
    data = np.arange(start, end, step)
    return _make(data.astype(dtype) if dtype is not None else data, requires_grad)
