"""dg.nn.Conv2d, MaxPool2d, MaxUnpool2d and Flatten: torch.nn's image layers.

Conv2d's parameters are PyTorch's: `weight` (out, in / groups, kh, kw) and
`bias` (out,), both drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
fan_in = in / groups * kh * kw (what torch's default init amounts to).
"""

from __future__ import annotations

import math

import numpy as np

from .. import functions as F
from ..creation import generator
from ..dispatch import DEFAULT_DTYPE
from ..functions_nn import conv2d, max_pool2d, max_unpool2d
from ..tensor import Tensor
from .modules import Module, Parameter


def _pair(value) -> tuple:
    return (value, value) if isinstance(value, int) else tuple(value)


class Conv2d(Module):
    """2-d convolution (cross-correlation) of (N, C, H, W) inputs."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1,
                 padding=0, dilation=1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", dtype=None) -> None:
        super().__init__()
        if padding_mode != "zeros":
            raise ValueError(f"Conv2d: padding_mode {padding_mode!r} is not available; "
                             "only 'zeros'")
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: groups={groups} must divide in_channels "
                             f"({in_channels}) and out_channels ({out_channels})")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = _pair(kernel_size), stride
        self.padding, self.dilation, self.groups = padding, dilation, groups
        dtype = DEFAULT_DTYPE[0] if dtype is None else np.dtype(dtype)
        shape = (out_channels, in_channels // groups) + self.kernel_size
        fan_in = shape[1] * shape[2] * shape[3]
        bound = 1.0 / math.sqrt(fan_in) if fan_in else 0.0
        self.weight = Parameter(generator().uniform(-bound, bound, shape).astype(dtype))
        self.bias = Parameter(generator().uniform(-bound, bound, (out_channels,)).astype(
            dtype)) if bias else None

    def forward(self, input: Tensor) -> Tensor:
        return conv2d(input, self.weight, self.bias, self.stride, self.padding,
                      self.dilation, self.groups)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")


class MaxPool2d(Module):
    """2-d max pooling; stride defaults to the kernel size. With return_indices,
    forward returns (values, indices) for MaxUnpool2d."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.ceil_mode = dilation, ceil_mode
        self.return_indices = return_indices

    def forward(self, input: Tensor):
        return max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool2d(Module):
    """The inverse of MaxPool2d(return_indices=True): zeros with each value put
    back at its index; stride defaults to the kernel size."""

    def __init__(self, kernel_size, stride=None, padding=0) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, input: Tensor, indices: Tensor, output_size=None) -> Tensor:
        return max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding,
                            output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class Flatten(Module):
    """Flatten dims start_dim..end_dim (default: all but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Tensor) -> Tensor:
        return F.flatten(input, self.start_dim, self.end_dim)
