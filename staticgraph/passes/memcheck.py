"""Run a program *through its memory plan* to prove the plan safe.

`simulate_plan(plan, env)` executes the program with the interpreter's
per-op semantics, but stores every planned value in its slot's buffer
(allocated once from the symbolic sizes), writes `into_variable` values
into copies of the variables' storage, and lets view ops view whatever
they read. Each slot (and each variable's storage) remembers which value it
holds: reading a value whose buffer now holds another one raises
`PlanViolation` naming both, so "no value is overwritten while still needed"
is checked on every read, and the results can be compared with `eval_graph`.
"""

from __future__ import annotations

import numpy as np

from ..graph.ir import Var
from ..runtime.interpreter import Evaluator
from .memory import MemoryPlan
from .symbolic import bind_symbols


class PlanViolation(AssertionError):
    """A value was read after its buffer was given to another value."""


class _Machine:
    def __init__(self, plan: MemoryPlan, env: dict) -> None:
        self.plan = plan
        self.env = dict(env)
        self.env.update(plan.graph.constants)
        for v in plan.graph.variables:
            if v in self.env:
                self.env[v] = np.array(self.env[v], copy=True)  # storage we may overwrite
        self.dims = bind_symbols(plan.shapes, self.env)
        self.buffers: dict[int, np.ndarray] = {}
        self.holder: dict[object, Var] = {}  # slot index or variable -> value it holds
        self.values: dict[Var, np.ndarray] = {}

    def read(self, x):
        if not isinstance(x, Var):
            return x
        root = self.plan.views.get(x, x)
        where = self.plan.slot_of.get(root)
        if where is None and root in self.plan.graph.variables:
            where = root
        holder = self.holder.get(where, root) if where is not None else root
        if holder is not root:
            raise PlanViolation(f"{x.label} is read after its buffer was given to {holder.label}")
        return self.values[x] if x in self.values else self.env[x]

    def buffer(self, slot: int, value: np.ndarray) -> np.ndarray:
        buf = self.buffers.get(slot)
        if buf is None:
            info = self.plan.slots[slot]
            self.bind_dynamic(info.values)
            buf = self.buffers[slot] = np.empty(info.elements(self.dims), info.dtype)
        if value.size > buf.size:
            raise PlanViolation(f"slot {slot} holds {buf.size} elements, a value needs "
                                f"{value.size}")
        return buf[:value.size].reshape(value.shape)

    def bind_dynamic(self, values: list[Var]) -> None:
        """Symbols with no input origin: bound from the first value computed."""
        for v in values:
            if v not in self.values:
                continue
            for dim, n in zip(self.plan.shapes.shape(v), self.values[v].shape):
                free = [s for s in dim.syms if s not in self.dims]
                if len(free) == 1 and dim.coef:
                    known = _others(dim, self.dims, free[0])
                    self.dims[free[0]] = n // known if known else 0

    def write(self, out: Var, value: np.ndarray) -> None:
        plan = self.plan
        if out in plan.views or out in plan.escapes:
            self.values[out] = value if out in plan.views else np.array(value, copy=True)
            return
        var = plan.into_variable.get(out)
        if var is not None:
            self.env[var][...] = value
            self.holder[var] = out
            self.values[out] = self.env[var]
            return
        slot = plan.slot_of[out]
        self.values[out] = value  # lets bind_dynamic see the shape
        target = self.buffer(slot, value)
        target[...] = value
        self.holder[slot] = out
        self.values[out] = target


def _others(dim, dims: dict, skip: str) -> int:
    """The product of `dim` without symbol `skip` (all others bound)."""
    out = dim.coef
    for s in dim.syms:
        if s != skip:
            out *= dims[s]
    return out


def simulate_plan(plan: MemoryPlan, env: dict) -> tuple[list, list]:
    """(outputs, update values) of `plan.graph` computed through the plan."""
    machine = _Machine(plan, env)
    evaluator = Evaluator(check_numerics=False)
    for eqn in plan.graph.eqns:
        vals = [machine.read(x) for x in eqn.inputs]
        outs = evaluator.apply(eqn, vals)
        for out, value in zip(eqn.outputs, outs):
            machine.write(out, value)
    outputs = [np.array(machine.read(v), copy=True) for v in plan.graph.outputs]
    updates = [np.array(machine.read(value), copy=True) for _, value in plan.graph.updates]
    return outputs, updates
