"""State a compiled call changes: tensors updated in place, `.grad`, optimizer buffers.

While a trace runs, `loss.backward()`, `dg.grad`, in-place updates of tensors
(`w -= lr * w.grad` under `no_grad`, `w.grad.zero_()`), `opt.zero_grad()` and
`opt.step()` are recorded as graph equations instead of being done. Each
piece of state they touch is a `Slot` (`slots.py`). A slot that holds an array when the
trace starts is a staticgraph variable of the graph: a call hands the array
itself to the runner, which updates it (in place on the compiled backends)
inside one transaction, so a failed call changes nothing. A slot that was
empty and gets a value is fetched and stored after the call; one emptied
(`grad = None`) is emptied after the call. Whether each slot is empty, and
the optimizer hyper-parameters a trace read, are guards of the trace.
"""

from __future__ import annotations

import threading

import numpy as np

from shared_ops import GradientError
from staticgraph.build.symbol import Symbol
from staticgraph.gradients import gradients
from staticgraph.graph.ir import Var

from ..grad_mode import GRAD_MODE, no_grad
from ..tensor import Tensor
from .errors import TraceError
from .slots import (
    BufferSlot,
    GradSlot,
    Slot,
    ValueSlot,
    fills_zero,
    slot_variable,
    zero_bits,
)


class TraceState:
    """The slots of one trace, and the autograd and in-place calls recorded in it."""

    def __init__(self, trace) -> None:
        self.trace = trace
        self.values: dict[int, ValueSlot] = {}
        self.grads: dict[int, GradSlot] = {}
        self.buffers: dict[tuple, BufferSlot] = {}
        self.owners: dict[int, Tensor] = {}          # tensors whose .grad a slot follows
        self.original_grads: dict[int, object] = {}  # real tensors' .grad, put back at exit
        self.guards: list[tuple] = []                # (read() -> value, value traced)
        self.differentiated = False

    def active(self) -> bool:
        return threading.get_ident() == self.trace.thread

    # ---- values ---------------------------------------------------------
    def inplace(self, t: Tensor, name: str, compute) -> Tensor:
        """`t <- compute(old t)` in the trace; `t` now names the result."""
        leaf = self.is_leaf(t)
        if GRAD_MODE.enabled and t._requires_grad and leaf:
            raise GradientError(f"in-place '{name}' on a leaf tensor that requires grad: "
                                "wrap the update in `with dg.no_grad():`")
        old = t if self.trace.is_traced(t) else self.trace.wrap(self.trace.capture(t),
                                                                 t._requires_grad)
        result = compute(old)
        if tuple(result._data._shape) != tuple(old._data._shape):
            raise TraceError(f"dg.compile: in-place '{name}' result shape "
                             f"{result._data._shape} differs from {old._data._shape}")
        if self.trace.is_traced(t):
            t._data, t._sym, t._requires_grad = result._data, result._sym, result._requires_grad
            index = self.trace.arg_index.get(id(t))
            if index is not None:
                if None in self.trace.arg_vars[index].aval.shape:
                    self.trace.specialize()  # state has concrete shapes: trace this call's
                self._write_value(index, t._sym, self.trace.arg_vars[index])
            return t
        if result._requires_grad:
            raise TraceError(f"dg.compile: in-place '{name}' records a gradient into a tensor "
                             f"from outside the compiled function{self.trace.site_text()}; "
                             "update it under `with dg.no_grad():`")
        self._write_value(t, result._sym, self.trace.leaf_symbol(t).var)
        return t

    def _write_value(self, target, sym: Symbol, var: Var) -> None:
        key = target if isinstance(target, int) else id(target)
        slot = self.values.get(key)
        if slot is None:
            slot = self.values[key] = ValueSlot(var, target)
        slot.current, slot.written = sym, True

    def constant(self, value: np.ndarray) -> Tensor:
        """A constant of the traced graph, as a traced tensor."""
        return self.trace.wrap(self.trace.constant(value), False)

    def current_value(self, t: Tensor) -> Symbol | None:
        slot = self.values.get(id(t))
        return None if slot is None else slot.current

    def is_leaf(self, t: Tensor) -> bool:
        if self.trace.is_traced(t):
            return id(t) in self.trace.arg_index
        return t._edge is None

    # ---- grads ----------------------------------------------------------
    def follow_grad(self, t: Tensor) -> GradSlot:
        """The slot of `t.grad`; a real tensor's grad now reads as a traced tensor."""
        slot = self.grads.get(id(t))
        if slot is not None:
            return slot
        index = self.trace.arg_index.get(id(t))
        real = self.trace.arg_tensors[index] if index is not None else t
        g = real.grad
        target = index if index is not None else t
        if g is not None and g.dtype.kind == "f" and zero_bits(g._data):
            slot = GradSlot(None, target, (g.shape, g.dtype))
            zero = self.constant(np.zeros((), g.dtype))
            traced = self.trace.wrap(self.trace.broadcast(zero._sym, g.shape), False)
        elif g is not None:
            var = slot_variable(self.trace.graph, g._data, f"grad{len(self.grads)}", None)
            slot = GradSlot(var, target)
            traced = self.trace.wrap(Symbol(self.trace.graph, var), False)
        else:
            slot, traced = GradSlot(None, target), None
        self.grads[id(t)] = slot
        self.owners[id(t)] = t
        if not self.trace.is_traced(t):
            self.original_grads[id(t)] = g
        t.grad = traced
        slot.current = None if traced is None else traced._sym
        return slot

    def set_grad(self, t: Tensor, value) -> None:
        """`t.grad = value` in the trace (zero_grad)."""
        self.follow_grad(t)
        t.grad = value

    def backward(self, roots: list, grad_tensors: list | None, inputs=None) -> None:
        """Accumulate d(roots)/d(leaf) into the `.grad` of every leaf they depend on."""
        leaves = [t for t in self._leaves() if inputs is None
                  or any(t is x for x in inputs)]
        grads = self._gradients(roots, grad_tensors, leaves)
        for t, g in zip(leaves, grads):
            if g is None:
                continue
            slot = self.follow_grad(t)
            old = t.grad
            if old is None:
                t.grad = self.trace.wrap(g, False)
            else:
                t.grad = self.trace.wrap(self.trace.to_symbol(old) + g, False)
            slot.written = True
        self.differentiated = True

    def grad(self, outputs: list, inputs: list, grad_outputs: list | None,
             allow_unused: bool) -> tuple:
        """dg.grad in the trace: the gradients, as traced tensors."""
        for t in inputs:
            if not t._requires_grad:
                raise GradientError("grad: one of the inputs does not require grad")
        grads = self._gradients(outputs, grad_outputs, inputs)
        if any(g is None for g in grads) and not allow_unused:
            raise GradientError("grad: one of the differentiated tensors was not used in "
                                "the graph (pass allow_unused=True to get None for it)")
        self.differentiated = True
        return tuple(None if g is None else self.trace.wrap(g, False) for g in grads)

    def _leaves(self) -> list:
        trace = self.trace
        leaves = [t for t, _ in trace.captures.values() if t._requires_grad and t._edge is None]
        leaves += [t for t in trace.arg_traced if t._requires_grad]
        return leaves

    def _gradients(self, roots: list, seeds: list | None, xs: list) -> list:
        trace = self.trace
        ys, ct = [], []
        for k, root in enumerate(roots):
            if not root._requires_grad:
                raise GradientError("backward on a tensor that does not require grad and has "
                                    "no grad_fn: did you forget requires_grad=True?")
            seed = None if seeds is None else seeds[k]
            if seed is None and int(np.prod(root._data._shape)) != 1:
                raise GradientError(
                    f"backward on a non-scalar tensor of shape {root._data._shape} needs "
                    "`gradient` (grad can be created implicitly only for scalar outputs)")
            ys.append(trace.to_symbol(root))
            ct.append(None if seed is None else trace.to_symbol(seed))
        if trace.graph is not trace.current_graph():
            raise TraceError("dg.compile: backward() inside an AutoGraph branch or loop body"
                             f"{trace.site_text()}; call it after the branch or loop")
        with no_grad():
            return gradients(ys, [trace.leaf_symbol(x) for x in xs], grad_ys=ct)

    # ---- optimizer buffers ----------------------------------------------
    def buffer(self, store: dict, key):
        """An optimizer buffer's value in the trace (a traced tensor, or None)."""
        slot = self._buffer_slot(store, key)
        return None if slot.current is None else self.trace.wrap(slot.current, False)

    def set_buffer(self, store: dict, key, value: Tensor) -> None:
        slot = self._buffer_slot(store, key)
        slot.current, slot.written = self.trace.to_symbol(value), True

    def _buffer_slot(self, store: dict, key) -> BufferSlot:
        slot = self.buffers.get((id(store), key))
        if slot is None:
            value = store.get(key)
            var = None if value is None else slot_variable(self.trace.graph, value,
                                                      f"buffer{len(self.buffers)}", None)
            slot = self.buffers[(id(store), key)] = BufferSlot(var, store, key)
            if var is not None:
                slot.current = Symbol(self.trace.graph, var)
        return slot

    def guard_value(self, read, value) -> None:
        """A Python value the trace baked in (a learning rate): `read()` must equal
        `value` at a call."""
        self.guards.append((read, value))

    def unsupported(self, what: str, advice: str) -> TraceError:
        """The error for a stateful call the trace cannot record."""
        return TraceError(f"dg.compile: {what} inside a compiled function"
                          f"{self.trace.site_text()}; {advice}")

    # ---- end of the trace -----------------------------------------------
    def finish(self, outputs: list[Var]) -> list[Slot]:
        """The slots a call must feed or store (written, or read by the graph), their
        final values set; every real tensor's `.grad` is put back as it was."""
        producers = {v: e for e in self.trace.graph.eqns for v in e.outputs}
        for key, t in self.owners.items():
            slot = self.grads[key]
            g = t.grad
            final = None if g is None else (g._sym if self.trace.is_traced(g)
                                             else self.trace.capture(g))
            if slot.zeros is not None:  # stays zeros: nothing to store
                zeros = final is not None and (final is slot.current or fills_zero(
                    self.trace.graph, producers, final.var))
                slot.written = not zeros
            elif (final is None) != (slot.var is None) or (
                    final is not None and final.var is not slot.var):
                slot.written = True
            slot.current = final
        self.restore()
        for slot in self.all_slots():
            slot.zero_fill = slot.written and slot.current is not None and fills_zero(
                self.trace.graph, producers, slot.current.var)
        used = set(outputs)
        for eqn in self.trace.graph.eqns:
            used.update(eqn.in_vars)
        return [s for s in self.all_slots()
                if s.written or (s.var is not None and s.var in used)]

    def all_slots(self) -> list[Slot]:
        """Every slot the trace consulted (each is a guard of the trace)."""
        return list(self.values.values()) + list(self.grads.values()) \
            + list(self.buffers.values())

    def restore(self) -> None:
        """Put back every real tensor's `.grad` as it was before the trace."""
        for key, g in self.original_grads.items():
            self.owners[key].grad = g
