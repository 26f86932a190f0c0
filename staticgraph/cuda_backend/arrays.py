"""Device arrays: allocation, transfers, zero-copy views, copies, `DeviceValue`.

Views (transpose, expand_dims, squeeze, broadcast_to, basic indexing, reshape
of a C-contiguous array) never touch the data: the NumPy op is applied to a
stand-in array with the device array's shape and strides, and the result's
shape, strides and byte offset make a new device array over the same memory
(`view_geometry`, pure NumPy, tested without a GPU). Under the simulator a
device array wraps a NumPy array and the op is applied to that.

Only `upload` (host to device) and `download` (device to host) cross the bus.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..compiler import GroupBuilder, compile_group
from .device import simulator_enabled

DeviceArray = Any  # numba DeviceNDArray (or the simulator's FakeCUDAArray)


def cuda_module() -> Any:
    from numba import cuda
    return cuda


def empty(shape: tuple[int, ...], dtype: Any) -> DeviceArray:
    """An uninitialised C-contiguous device array."""
    return cuda_module().device_array(tuple(shape), np.dtype(dtype))


def upload(host: np.ndarray, into: DeviceArray | None = None) -> DeviceArray:
    """Host -> device (one copy); into `into` when it has the same shape and dtype."""
    host = np.asarray(host)
    if not host.flags.c_contiguous:
        host = host.copy()  # (np.ascontiguousarray would make a 0-d array 1-d)
    if into is not None and tuple(into.shape) == host.shape and into.dtype == host.dtype:
        if host.size:
            into.copy_to_device(host)
        return into
    return cuda_module().to_device(host)


def download(arr: DeviceArray) -> np.ndarray:
    """Device -> host (one copy, a fresh array the caller owns)."""
    if arr.size and not arr.is_c_contiguous():
        arr = contiguous_copy(arr)
    if not arr.size:
        return np.empty(tuple(arr.shape), arr.dtype)
    return arr.copy_to_host()


def view_geometry(shape: tuple[int, ...], strides: tuple[int, ...], dtype: Any,
                  op: Callable[[np.ndarray], np.ndarray]) -> tuple[tuple, tuple, int]:
    """(shape, strides, byte offset) of `op` applied to an array of that geometry.

    `op` must return a view (NumPy ops that never read the data: transpose,
    basic indexing ending in `...`, broadcast_to, expand_dims, squeeze, and
    reshape of a C-contiguous array).
    """
    dtype = np.dtype(dtype)
    base = np.zeros(1, dtype)
    stand_in = np.lib.stride_tricks.as_strided(base, shape, strides, writeable=False)
    out = op(stand_in)
    if not isinstance(out, np.ndarray):
        raise TypeError("a device view op must return an array (index with ... at the end)")
    root = out
    while getattr(root, "base", None) is not None:
        root = root.base
    if root is not base:
        raise ValueError("the op copied its operand: not a view")
    offset = out.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    return tuple(out.shape), tuple(out.strides), int(offset)


def view(arr: DeviceArray, op: Callable[[np.ndarray], np.ndarray]) -> DeviceArray:
    """A zero-copy device view: `op` applied to `arr` as NumPy would (see module doc)."""
    if simulator_enabled():
        from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray
        return FakeCUDAArray(op(arr._ary))
    shape, strides, offset = view_geometry(tuple(arr.shape), tuple(arr.strides), arr.dtype, op)
    if math.prod(shape) == 0:
        return empty(shape, arr.dtype)
    from numba.cuda.cudadrv.devicearray import DeviceNDArray
    data = arr.gpu_data.view(offset) if offset else arr.gpu_data
    return DeviceNDArray(shape, strides, arr.dtype, gpu_data=data)


def reshape(arr: DeviceArray, shape: tuple[int, ...]) -> DeviceArray:
    """Reshape as a view when `arr` is C-contiguous, else from a contiguous copy."""
    shape = tuple(int(d) for d in shape)
    if tuple(arr.shape) == shape:
        return arr
    if not arr.is_c_contiguous():
        arr = contiguous_copy(arr)
    return view(arr, lambda a: a.reshape(shape))


def same_memory(a: DeviceArray, b: DeviceArray) -> bool:
    """Do two device arrays' extents overlap? (conservative: by address ranges)."""
    if simulator_enabled():
        return bool(np.may_share_memory(a._ary, b._ary))
    if not a.size or not b.size:
        return False
    (lo_a, hi_a), (lo_b, hi_b) = _extent(a), _extent(b)
    return lo_a < hi_b and lo_b < hi_a


def _extent(arr: DeviceArray) -> tuple[int, int]:
    ptr = arr.__cuda_array_interface__["data"][0]
    low = sum(s * (n - 1) for s, n in zip(arr.strides, arr.shape) if s < 0)
    high = sum(s * (n - 1) for s, n in zip(arr.strides, arr.shape) if s > 0)
    return ptr + low, ptr + high + arr.dtype.itemsize


# ---- device-side copies, through one-step fused kernels ----------------------------------
def _copy_kernel(ndim: int, src: np.dtype, dst: np.dtype) -> Any:
    b = GroupBuilder(f"copy_{src.name}_{dst.name}_{ndim}d")
    x = b.input(ndim, src)
    y = b.op("stop_gradient", x) if src == dst else b.op("cast", x, dtype=dst)
    return compile_group(b.build(outputs=[y]), _target())


def _zero_kernel(ndim: int, dtype: np.dtype) -> Any:
    b = GroupBuilder(f"zeros_{dtype.name}_{ndim}d")
    y = b.op("zeros_like", b.input(ndim, dtype))
    return compile_group(b.build(outputs=[y]), _target())


_TARGET: list = []


def _target() -> Any:
    if not _TARGET:
        from ..compiler.cuda import CudaTarget
        _TARGET.append(CudaTarget())
    return _TARGET[0]


def copy_into(dst: DeviceArray, src: DeviceArray) -> None:
    """dst[...] = src (broadcasting src, casting to dst's dtype), on the device."""
    if not dst.size:
        return
    if (tuple(dst.shape) == tuple(src.shape) and dst.dtype == src.dtype
            and dst.is_c_contiguous() and src.is_c_contiguous()
            and not (simulator_enabled() and 0 in tuple(dst.strides) + tuple(src.strides))):
        # (the simulator's copy_to_device drops a view's stride-0 size-1 dims)
        dst.copy_to_device(src)  # device-to-device memcpy
        return
    if dst.ndim == 0:
        dst, src = reshape(dst, (1,)), view(src, lambda a: a.reshape(1) if a.ndim == 0 else a)
    src = view(src, lambda a: np.broadcast_to(a, tuple(dst.shape)))
    _copy_kernel(dst.ndim, np.dtype(src.dtype), np.dtype(dst.dtype))(src, out=(dst,))


def contiguous_copy(arr: DeviceArray) -> DeviceArray:
    """A C-contiguous device copy of `arr`."""
    out = empty(tuple(arr.shape), arr.dtype)
    copy_into(out, arr)
    return out


def fill_zeros(arr: DeviceArray) -> None:
    """arr[...] = 0 on the device."""
    if arr.size:
        a = arr if arr.ndim else reshape(arr, (1,))
        _zero_kernel(a.ndim, np.dtype(a.dtype))(a, out=(a,))


class DeviceValue:
    """A variable's value kept on the GPU between calls (in a Session's state).

    The cuda backend stores these in `state` so variables stay on the device;
    `np.asarray(value)` (and so `sess.get(var)`) copies it to the host.
    """

    __slots__ = ("array",)

    def __init__(self, array: DeviceArray) -> None:
        self.array = array

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.array.dtype)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def save_to(self, backup: DeviceArray | None) -> DeviceArray:
        """Copy the value into `backup` (a device array made when it does not fit)."""
        if backup is None or tuple(backup.shape) != self.shape or \
                np.dtype(backup.dtype) != self.dtype:
            backup = empty(self.shape, self.dtype)
        copy_into(backup, self.array)
        return backup

    def load_from(self, backup: DeviceArray) -> None:
        """Put back a value saved by `save_to` (a failed run's rollback)."""
        copy_into(self.array, backup)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        host = download(self.array)
        return host.astype(dtype) if dtype is not None else host

    def __repr__(self) -> str:
        return f"DeviceValue({self.dtype.name}{list(self.shape)})"
