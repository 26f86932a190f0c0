"""A graph lowered to device steps, and the device memory it runs in.

`Block(graph)` lowers every equation once (`lowering.lower_eqn`: kernels are
generated and compiled then) and plans the graph's buffers with the shared
memory planner (`staticgraph.passes.plan_memory`): values share slots once
dead, elementwise ops write in place, SGD-style updates straight into the
variable's storage. `block.run(env, mem)` runs the steps on device arrays.

`Memory` holds every buffer a block writes: the plan's slots (1-D device
buffers, grown when a value needs more and then kept, so a second call with
the same shapes allocates nothing), buffers owned by one value or step
(escaping values, scan stacks, ...) keyed by shape, and child memories for
nested blocks (cond branches, scan bodies). A scan body runs in two child
memories alternately, so a step never overwrites the carry it reads.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..graph.ir import Graph, Var
from ..passes import plan_memory
from . import arrays
from .lowering import lower_eqn


class Memory:
    """Device buffers of one block instance (see the module doc)."""

    def __init__(self) -> None:
        self.slots: dict[int, Any] = {}
        self.views: dict[tuple, Any] = {}
        self.slot_keys: dict[int, list] = {}
        self.owned: dict[tuple, Any] = {}
        self.children: dict[tuple, Memory] = {}
        self.meta: dict[tuple, Any] = {}

    def slot(self, index: int, var: Var, shape: tuple[int, ...]) -> Any:
        """The value `var` of `shape` in slot `index` (a view at offset 0)."""
        key = (var.id, shape)
        arr = self.views.get(key)
        if arr is not None:
            return arr
        need, dtype = math.prod(shape), np.dtype(var.dtype)
        buf = self.slots.get(index)
        if buf is None or buf.size < need or buf.dtype != dtype:
            buf = self.slots[index] = arrays.empty((max(need, 1),), dtype)
            for stale in self.slot_keys.pop(index, []):
                self.views.pop(stale, None)
        arr = arrays.view(buf, lambda a: a[:need].reshape(shape))
        self.views[key] = arr
        self.slot_keys.setdefault(index, []).append(key)
        return arr

    def own(self, key: tuple, shape: tuple[int, ...], dtype: Any) -> Any:
        """A buffer only `key` uses, one per shape."""
        full = (key, tuple(shape), np.dtype(dtype).str)
        arr = self.owned.get(full)
        if arr is None:
            arr = self.owned[full] = arrays.empty(tuple(shape), dtype)
        return arr

    def child(self, key: tuple) -> Memory:
        mem = self.children.get(key)
        if mem is None:
            mem = self.children[key] = Memory()
        return mem

    def nbytes(self) -> int:
        own = sum(a.nbytes for a in list(self.slots.values()) + list(self.owned.values()))
        return own + sum(c.nbytes() for c in self.children.values())


class Block:
    """One graph (a program, a cond branch, a scan body) lowered to steps."""

    def __init__(self, graph: Graph, name: str = "program") -> None:
        self.graph, self.name = graph, name
        self.plan = plan_memory(graph)
        self.constants = {v: arrays.upload(np.asarray(c)) for v, c in graph.constants.items()}
        self.steps = [lower_eqn(eqn, self, i) for i, eqn in enumerate(graph.eqns)]

    def nested(self, graph: Graph, name: str) -> Block:
        """A block for a subgraph of one of this block's equations (a cond
        branch, a scan body)."""
        return Block(graph, name)

    def out(self, mem: Memory, env: dict, var: Var, shape: tuple[int, ...]) -> Any:
        """Where the step computing `var` writes it (slot, variable storage or own)."""
        shape = tuple(int(d) for d in shape)
        target = self.plan.into_variable.get(var)
        if target is not None and target in env and tuple(env[target].shape) == shape:
            return env[target]
        slot = self.plan.slot_of.get(var)
        if slot is None:
            return mem.own(("value", var.id), shape, var.dtype)
        return mem.slot(slot, var, shape)

    def run(self, env: dict, mem: Memory, check: Any = None) -> list:
        """Run every step on `env` (Var -> device array); the graph's outputs.

        `check(step, env)` runs after each step (check_numerics).
        """
        env.update(self.constants)
        for step in self.steps:
            if step.guard is not None:
                step.guard(*step.values(env))
            step.run(env, mem)
            if check is not None:
                check(step, env)
        return [env[v] for v in self.graph.outputs]

    def describe(self, indent: str = "  ") -> list[str]:
        lines = []
        for i, step in enumerate(self.steps):
            first, *rest = step.describe()
            lines.append(f"{indent}{i + 1:>3}. {first}")
            lines += [f"{indent}     {line}" for line in rest]
        return lines

    def kernels(self) -> list:
        found = []
        for step in self.steps:
            found += step.kernels()
        return found
