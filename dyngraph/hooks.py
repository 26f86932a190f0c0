"""Tensor gradient hooks (`Tensor.register_hook`) and anomaly mode.

A hook `fn(grad) -> Tensor | None` sees the total gradient of its tensor
during backward; a returned tensor replaces that gradient (for what flows on
and for what `.grad` or `dg.grad` receives), as in PyTorch. Hooks of a
non-leaf tensor are keyed by its node and output index, those of a leaf by
the tensor; both registries hold weak references.

Anomaly mode (`dg.autograd.detect_anomaly()` / `set_detect_anomaly(True)`)
checks every gradient a backward rule returns: a NaN or Inf raises a
GradientError naming the forward op and the user's line that created it.
"""

from __future__ import annotations

import itertools
import threading
import weakref

import numpy as np

from shared_ops import GradientError

from .dispatch import TensorBase, wrap

# node -> {output index: {handle id: fn}};  id(leaf tensor) -> {handle id: fn}, the
# entry dropped when the tensor dies (Tensor's == is elementwise, so no WeakKeyDictionary)
NODE_HOOKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
LEAF_HOOKS: dict[int, dict] = {}
_ids = itertools.count()


class RemovableHandle:
    """What `register_hook` returns: `handle.remove()` unregisters the hook."""

    def __init__(self, table: dict, hid: int) -> None:
        self._table = table
        self.id = hid

    def remove(self) -> None:
        self._table.pop(self.id, None)


def register_hook(tensor, fn) -> RemovableHandle:
    """Register `fn(grad)` on `tensor` (see the module docstring)."""
    if not callable(fn):
        raise TypeError(f"register_hook: the hook must be callable, got {type(fn).__name__}")
    if not tensor.requires_grad:
        raise GradientError("register_hook on a tensor that does not require grad: it "
                            "never receives a gradient")
    edge = tensor._edge
    if edge is None:
        table = LEAF_HOOKS.get(id(tensor))
        if table is None:
            table = LEAF_HOOKS[id(tensor)] = {}
            weakref.finalize(tensor, LEAF_HOOKS.pop, id(tensor), None)
    else:
        node, index = edge if type(edge) is tuple else (edge, 0)
        table = NODE_HOOKS.setdefault(node, {}).setdefault(index, {})
    hid = next(_ids)
    table[hid] = fn
    return RemovableHandle(table, hid)


def run_hooks(table: dict | None, g):
    """`g` passed through every hook in `table` (registration order)."""
    if not table:
        return g
    for fn in list(table.values()):
        arg = g if isinstance(g, TensorBase) else wrap(np.asarray(g))
        result = fn(arg)
        if result is not None:
            if not isinstance(result, TensorBase):
                raise GradientError(f"a tensor hook returned {type(result).__name__}; it "
                                    "must return a Tensor or None")
            if result.shape != np.shape(g):
                raise GradientError(f"a tensor hook returned a gradient of shape "
                                    f"{result.shape}, expected {np.shape(g)}")
            g = result if isinstance(g, TensorBase) else result._data
    return g


def apply_node_hooks(node, grads: list) -> None:
    """Replace `grads[i]` (the gradient of output i of `node`) by its hooks' result."""
    hooks = NODE_HOOKS.get(node)
    if hooks:
        for i, g in enumerate(grads):
            if g is not None and hooks.get(i):
                grads[i] = run_hooks(hooks[i], g)


def apply_leaf_hooks(leaves: dict) -> None:
    """Replace each leaf's total gradient in `leaves` by its hooks' result."""
    if not LEAF_HOOKS:
        return
    for leaf in list(leaves):
        table = LEAF_HOOKS.get(id(leaf))
        if table:
            leaves[leaf] = run_hooks(table, leaves[leaf])


class _AnomalyMode(threading.local):
    enabled = False


ANOMALY = _AnomalyMode()


def is_anomaly_enabled() -> bool:
    return ANOMALY.enabled


class set_detect_anomaly:
    """Turn anomaly checks on or off (a plain call, or a context manager that restores)."""

    def __init__(self, mode: bool) -> None:
        self.prev = ANOMALY.enabled
        ANOMALY.enabled = bool(mode)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        ANOMALY.enabled = self.prev


class detect_anomaly(set_detect_anomaly):
    """Context manager: check every backward rule's output for NaN / Inf."""

    def __init__(self, check_nan: bool = True) -> None:
        super().__init__(check_nan)


def check_gradients(node, in_grads) -> None:
    """Raise a GradientError naming `node`'s forward op if a gradient is not finite."""
    for i, g in enumerate(in_grads):
        if g is None:
            continue
        data = g._data if hasattr(g, "_data") else np.asarray(g)
        if data.dtype.kind in "fc" and not np.isfinite(data).all():
            kind = "nan" if np.isnan(data).any() else "inf"
            raise GradientError(
                f"anomaly detected: the backward of {node.where()} returned {kind} values "
                f"in its gradient for input {i}")
