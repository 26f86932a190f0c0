"""Devices as PyTorch names them: dyngraph computes on the CPU only.

`device("cpu")` is accepted everywhere a device is; `TensorDeviceMixin`
gives `Tensor` its `to`, `cpu`, `device` and `is_cuda`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

import shared_ops.api as A

from .dispatch import TensorBase

if TYPE_CHECKING:
    from typing_extensions import Self


class device:  # noqa: N801  (torch.device's name)
    """A device name as torch.device: dyngraph has the CPU only (`device("cpu")`)."""

    def __init__(self, type: str, index: int | None = None) -> None:
        kind, _, number = str(type).partition(":")
        self.type = kind
        self.index = int(number) if number else index
        check_device(self)

    def __eq__(self, other) -> bool:
        other_type = getattr(other, "type", other)
        return isinstance(other_type, str) and other_type.split(":")[0] == self.type

    def __hash__(self) -> int:
        return hash(self.type)

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        return f"device(type='{self.type}')"


def check_device(device) -> None:
    """dyngraph computes on the CPU only: 'cpu' (or 'cpu:0') is accepted, others refused."""
    kind = getattr(device, "type", device)
    if not isinstance(kind, str) or kind.split(":")[0] != "cpu":
        raise ValueError(f"to: dyngraph tensors live on the CPU; device {device!r} is not "
                         "available (use 'cpu', or staticgraph's cuda backend)")


CPU = device("cpu")


class TensorDeviceMixin:
    """`Tensor.to` and the device queries (always the CPU)."""

    __slots__ = ()

    def to(self, *args, dtype=None, device=None, non_blocking: bool = False,
           copy: bool = False) -> Self:
        """`to(dtype)`, `to(device, dtype=None)`, `to(other)`: PyTorch's forms.

        The device must be the CPU (a no-op); a new dtype casts (recorded on the
        tape); `copy=True` always returns a new tensor.
        """
        for arg in args:
            if isinstance(arg, TensorBase):
                dtype = arg.dtype
            elif isinstance(arg, str) or hasattr(arg, "type"):
                device = arg
            else:
                dtype = arg
        if device is not None:
            check_device(device)
        if dtype is not None and np.dtype(dtype) != self.dtype:
            return A.cast(self, dtype)
        return self.clone() if copy else self

    def cpu(self) -> Self:
        """This tensor itself (dyngraph tensors live on the CPU)."""
        return self

    @property
    def device(self) -> device:
        """The tensor's device: always the CPU."""
        return CPU

    @property
    def is_cuda(self) -> bool:
        """False: dyngraph tensors live on the CPU."""
        return False
