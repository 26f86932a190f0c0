"""The pieces of state a compiled call reads and stores (`Slot`s): a tensor's
values, its `.grad`, an optimizer buffer; and the checks the trace makes on them.

A slot that holds an array when a trace starts is a variable of the traced
graph (`var`); `current` is its value at the end of the trace so far (None:
empty). `read`/`store` reach the live state at a call (`args`: the call's
flattened arguments, for slots of argument tensors); `guard` is what must
still hold at a call for the trace to apply.
"""

from __future__ import annotations

import numpy as np

from shared_ops import REGISTRY
from staticgraph.graph.ir import Var

from ..dispatch import wrap
from ..node import bump_version
from ..tensor import Tensor

WHERE, BROADCAST_TO = REGISTRY["where"], REGISTRY["broadcast_to"]


class Slot:
    """One piece of state: where it lives, its variable (None: empty when the
    trace started) and its value at the end of the trace so far."""

    kind = "state"

    def __init__(self, var: Var | None) -> None:
        self.var = var
        self.current = None       # Symbol, or None for an empty slot
        self.written = False
        self.zero_fill = False    # its final value is zeros: filled after the run

    def store_zeros(self, args: list) -> None:
        """Store zeros (into the slot's own array when it has one that fits)."""
        old, aval = self.read(args), self.current.var.aval
        if old is not None and old.flags.writeable and old.shape == aval.shape \
                and old.dtype == aval.dtype:
            old.fill(0)
            self.store(args, old)
        else:
            self.store(args, np.zeros(aval.shape, aval.dtype))

    def guard(self, args: list) -> tuple | None:
        """What must hold at a call for the trace to apply: (shape, dtype), None if empty."""
        return shape_of(self.read(args))

    @property
    def traced_guard(self) -> tuple | None:
        return None if self.var is None else (self.var.aval.shape, self.var.aval.dtype)

    def read(self, args: list) -> np.ndarray | None:
        raise NotImplementedError

    def store(self, args: list, value: np.ndarray | None) -> None:
        raise NotImplementedError


def slot_target(target, args: list) -> Tensor:
    """A slot's tensor: a captured tensor, or the call's argument at an index."""
    return args[target] if isinstance(target, int) else target


class ValueSlot(Slot):
    """The array of a tensor changed in place."""

    kind = "value"

    def __init__(self, var: Var, target) -> None:
        super().__init__(var)
        self.target = target

    def read(self, args: list) -> np.ndarray:
        return slot_target(self.target, args)._data

    def guard(self, args: list) -> bool:
        return True  # the tensor's shape and dtype are guarded as an argument or capture

    @property
    def traced_guard(self) -> bool:
        return True

    def store(self, args: list, value: np.ndarray | None) -> None:
        t = slot_target(self.target, args)
        if value is not t._data:
            np.copyto(t._data, value)
        bump_version(t)


class GradSlot(Slot):
    """The `.grad` of a leaf tensor. A `.grad` that holds only zeros when traced
    (zeroed by the last step) is traced as a zero constant, not a variable:
    `zeros` is then its (shape, dtype), and its guard reads the array."""

    kind = "grad"

    def __init__(self, var: Var | None, target, zeros: tuple | None = None) -> None:
        super().__init__(var)
        self.target = target
        self.zeros = zeros

    def guard(self, args: list) -> tuple | None:
        array = self.read(args)
        spec = shape_of(array)
        if self.zeros is None or spec != self.zeros:
            return spec
        return spec + (zero_bits(array),)

    @property
    def traced_guard(self) -> tuple | None:
        return super().traced_guard if self.zeros is None else self.zeros + (True,)

    def read(self, args: list) -> np.ndarray | None:
        g = slot_target(self.target, args).grad
        return None if g is None else g._data

    def store(self, args: list, value: np.ndarray | None) -> None:
        t = slot_target(self.target, args)
        if value is None:
            t.grad = None
        elif t.grad is not None and fits(t.grad._data, value):
            if t.grad._data is not value:
                np.copyto(t.grad._data, value)
            bump_version(t.grad)
        else:
            t.grad = wrap(value)


class BufferSlot(Slot):
    """An optimizer's per-parameter array, `store[key]`."""

    kind = "buffer"

    def __init__(self, var: Var | None, store: dict, key) -> None:
        super().__init__(var)
        self.dict = store
        self.key = key

    def read(self, args: list) -> np.ndarray | None:
        return self.dict.get(self.key)

    def store(self, args: list, value: np.ndarray | None) -> None:
        old = self.dict.get(self.key)
        if value is None:
            self.dict.pop(self.key, None)
        elif old is not None and fits(old, value):
            if old is not value:
                np.copyto(old, value)
        else:
            self.dict[self.key] = value


def fits(array: np.ndarray, value: np.ndarray) -> bool:
    """`value` can be copied into `array` as it is (same shape and dtype, writable)."""
    return (array.shape == value.shape and array.dtype == value.dtype
            and array.flags.writeable)


def slot_variable(graph, value: np.ndarray, name: str, site) -> Var:
    """A variable of the traced graph standing for a slot's array."""
    stand_in = np.broadcast_to(np.zeros((), value.dtype), value.shape)
    return graph.add_variable(stand_in, name, trainable=False, site=site)


def fills_zero(graph, producers: dict, var: Var) -> bool:
    """`var` is zeros everywhere by construction: `where(False, x, 0)` (a traced
    `zero_()`) or a broadcast zero constant."""
    eqn = producers.get(var)
    if eqn is None:
        return False
    constants = graph.constants

    def constant(x):
        return constants.get(x) if isinstance(x, Var) else None
    if eqn.prim is WHERE:
        cond, value = constant(eqn.inputs[0]), constant(eqn.inputs[2])
        return (cond is not None and cond.size == 1 and not cond.any()
                and value is not None and value.size == 1 and not value.any())
    if eqn.prim is BROADCAST_TO:
        value = constant(eqn.inputs[0])
        return value is not None and value.size == 1 and not value.any()
    return False


def zero_bits(a: np.ndarray) -> bool:
    """Every element of `a` is +0 (all bits zero; -0.0 is not)."""
    if a.flags.c_contiguous and a.dtype.itemsize in (4, 8):  # one integer max: fastest
        return a.size == 0 or int(a.reshape(-1).view(f"u{a.dtype.itemsize}").max()) == 0
    return not np.signbit(a).any() and not a.any()


def shape_of(value) -> tuple | None:
    if value is None:
        return None
    data = value._data if isinstance(value, Tensor) else value
    return (data.shape, data.dtype)
