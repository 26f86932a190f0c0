"""Memory planning: which buffer each value of a program lives in.

`plan_memory(program) -> MemoryPlan` is an analysis (the graph is not
changed) for a lowering that allocates its buffers once and reuses them on
every call. Over the top-level equations, in order:

- *external* values (inputs, variables, constants) own their storage;
- *views*: an op whose primitive declares `views` (reshape, transpose,
  basic-index getitem, stop_gradient, identity, ...) may return a view of its
  operand (output i of a multiple-result op: of operand i), so it gets no
  buffer and keeps its root's buffer alive as long as it is; a state
  update's value is a view only of an input or a constant (memory no run
  writes), else it gets a slot and the lowering copies the view into it;
- *escaping* values (the program's outputs) are returned to the caller, who
  may keep them: they get no slot (a fresh array per call; a view op
  producing one must copy);
- every other value gets a slot. A slot is a buffer of one dtype whose size
  is a `Monomial` in the run-time dims (`800 * x.0` elements, symbols from
  `symbolic.py`); a value may reuse a free slot of the same dtype and the
  same symbols (the slot grows to the largest coefficient it serves);
- a slot is free once its value (and every view of it) has been read for
  the last time; update values stay live to the end (they are committed
  after the run);
- *in place*: an elementwise or fused op whose input dies at this op and has
  exactly the output's static shape and dtype writes its output into that
  input's slot (`in_place[out] = input`: every element is read before it is
  written). An update value computed that way from its own variable, when
  nothing reads the variable afterwards, is written straight into the
  variable's storage (`into_variable[value] = variable`). A primitive that
  names the inputs it may overwrite (`overwrites`, `gemm_update`'s
  accumulator) gets the same, when none of its other operands views that
  input's memory (a GEMM reads them while it writes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..graph.ir import Eqn, Graph, Var
from .symbolic import Monomial, ShapeInference, infer_shapes, size_of


@dataclass
class Slot:
    """One reusable buffer: a dtype and a symbolic size in elements."""

    index: int
    dtype: np.dtype
    size: Monomial
    values: list[Var] = field(default_factory=list)

    def elements(self, dims: dict[str, int]) -> int:
        return self.size.evaluate(dims)


@dataclass
class MemoryPlan:
    """Where each value of a program lives (see the module doc)."""

    graph: Graph
    slots: list[Slot]
    slot_of: dict[Var, int]
    views: dict[Var, Var]  # view value -> the root value whose buffer it reads
    in_place: dict[Var, Var]  # output -> the dying input whose slot it overwrites
    into_variable: dict[Var, Var]  # update value -> variable whose storage it takes
    escapes: list[Var]  # values returned to the caller (no slot)
    last_use: dict[Var, int]  # last eqn index reading it (incl. views); len(eqns): to the end
    shapes: ShapeInference

    @property
    def values(self) -> list[Var]:
        """Every value an equation defines."""
        return [v for e in self.graph.eqns for v in e.outputs]

    def describe(self) -> str:
        """Slots, their sizes and values, and the in-place decisions."""
        lines = [f"memory plan: {len(self.values)} values, {len(self.slots)} slots, "
                 f"{len(self.views)} views, {len(self.in_place)} in place, "
                 f"{len(self.into_variable)} into variables, {len(self.escapes)} escaping"]
        for slot in self.slots:
            names = ", ".join(v.label for v in slot.values)
            lines.append(f"  slot {slot.index}: {slot.dtype.name}[{slot.size}]  {names}")
        for out, src in self.in_place.items():
            lines.append(f"  in place: {out.label} overwrites {src.label}")
        for out, var in self.into_variable.items():
            lines.append(f"  into variable: {out.label} is written into {var.label}")
        return "\n".join(lines)


def is_view(eqn: Eqn) -> bool:
    """Whether the primitive declares its (single) output a view of its first input."""
    return len(eqn.outputs) == 1 and bool(eqn.inputs) and isinstance(eqn.inputs[0], Var) \
        and eqn.prim.views_for(eqn.params)


def view_sources(eqn: Eqn) -> list[tuple[Var, Var]]:
    """(output, the input it may view) pairs the primitive declares (output i of a
    multiple-result op views input i)."""
    if not eqn.prim.views_for(eqn.params):
        return []
    return [(out, x) for out, x in zip(eqn.outputs, eqn.inputs) if isinstance(x, Var)]


def writes_elementwise(eqn: Eqn) -> bool:
    return bool(eqn.prim.elementwise or eqn.prim.fused)


def overwritable(eqn: Eqn) -> list[Var]:
    """The inputs whose buffer the output may take: every input of an elementwise
    or fused op, the ones the primitive's `overwrites` names for others, else none."""
    if writes_elementwise(eqn):
        return eqn.in_vars
    positions = eqn.prim.overwrites
    return [eqn.inputs[j] for j in positions if isinstance(eqn.inputs[j], Var)]


def _same(a: Var, b: Var) -> bool:
    return tuple(a.shape) == tuple(b.shape) and np.dtype(a.dtype) == np.dtype(b.dtype)


class _Planner:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.n = len(graph.eqns)
        self.escapes = list(dict.fromkeys(v for v in graph.outputs))
        self.updates = {value: var for var, value in graph.updates}
        self.external = set(graph.inputs) | set(graph.variables) | set(graph.constants)
        self.views: dict[Var, Var] = {}
        self.last: dict[Var, int] = {}
        self.shapes = infer_shapes(graph)
        self.slots: list[Slot] = []
        self.slot_of: dict[Var, int] = {}
        self.free: dict[tuple, list[int]] = {}
        self.in_place: dict[Var, Var] = {}
        self.into_variable: dict[Var, Var] = {}

    def liveness(self) -> None:
        """Last use of every value, views keeping their roots alive."""
        materialize = set(self.escapes) | set(self.updates)
        fixed = set(self.graph.inputs) | set(self.graph.constants)  # no run writes them
        for i, eqn in enumerate(self.graph.eqns):
            for v in eqn.outputs:
                self.last[v] = i
            for x in eqn.in_vars:
                self.last[x] = i
            for out, src in view_sources(eqn):
                root = self.views.get(src, src)
                if out not in materialize or (out in self.updates and root in fixed):
                    self.views[out] = root
        for v in self.escapes + list(self.updates):
            self.last[v] = self.n
        for view, root in self.views.items():
            self.last[root] = max(self.last.get(root, -1), self.last[view])

    def plan(self) -> MemoryPlan:
        self.liveness()
        for i, eqn in enumerate(self.graph.eqns):
            taken: set[int] = set()
            for out in eqn.outputs:
                self.place(i, eqn, out, taken)
            self.release(i, eqn)
        return MemoryPlan(self.graph, self.slots, self.slot_of, self.views, self.in_place,
                          self.into_variable, self.escapes, self.last, self.shapes)

    def place(self, i: int, eqn: Eqn, out: Var, taken: set[int]) -> None:
        if out in self.views or out in self.escapes:
            return
        candidates = overwritable(eqn)
        if candidates:
            var = self.updates.get(out)
            if var is not None and var in candidates and self.last.get(var) == i \
                    and var not in self.into_variable.values() and _same(var, out) \
                    and self.may_overwrite(eqn, out, var):
                self.into_variable[out] = var
                return
            for x in candidates:
                slot = self.slot_of.get(x)
                if slot is not None and slot not in taken and self.last[x] == i and \
                        _same(x, out) and self.may_overwrite(eqn, out, x):
                    self.assign(out, slot, taken)
                    self.in_place[out] = x
                    return
        self.assign(out, self.pick(out), taken)

    def may_overwrite(self, eqn: Eqn, out: Var, x: Var) -> bool:
        """Whether `out` can be written over input `x`: not a fused reduction's
        result (its kernel clears that buffer before reading the inputs), and
        no other operand of the op views `x`'s memory (`m + m.T`)."""
        group = eqn.params.get("group") if eqn.prim.fused else None
        if group is not None and group.reduction is not None and out is eqn.outputs[-1]:
            return False
        root = self.views.get(x, x)
        if not writes_elementwise(eqn):  # every other operand, even `x` itself again
            positions = eqn.prim.overwrites
            others = [y for j, y in enumerate(eqn.inputs)
                      if isinstance(y, Var) and j not in positions]
            return not any(self.views.get(y, y) is root for y in others)
        return not any(self.views.get(y, y) is root for y in eqn.in_vars if y is not x)

    def pick(self, v: Var) -> int:
        """A free slot of the same dtype and symbols (best fit, else the largest,
        grown), or a new one."""
        size = size_of(self.shapes, v)
        key = (np.dtype(v.dtype).str, size.syms)
        free = self.free.get(key)
        if free:
            fits = [s for s in free if self.slots[s].size.coef >= size.coef]
            best = min(fits, key=lambda s: self.slots[s].size.coef) if fits else \
                max(free, key=lambda s: self.slots[s].size.coef)
            free.remove(best)
            slot = self.slots[best]
            if slot.size.coef < size.coef:
                slot.size = size
            return best
        self.slots.append(Slot(len(self.slots), np.dtype(v.dtype), size))
        return len(self.slots) - 1

    def assign(self, v: Var, slot: int, taken: set[int]) -> None:
        self.slot_of[v] = slot
        self.slots[slot].values.append(v)
        taken.add(slot)

    def release(self, i: int, eqn: Eqn) -> None:
        """Free the slots whose value died at equation `i` (and were not reused)."""
        dying = [x for x in list(eqn.in_vars) + list(eqn.outputs) if self.last.get(x) == i]
        dying += [root for root in {self.views.get(x) for x in eqn.in_vars} if root is not None
                  and self.last.get(root) == i]
        for x in dict.fromkeys(dying):
            slot = self.slot_of.get(x)
            if slot is None or self.slots[slot].values[-1] is not x:
                continue  # not planned, or handed on in place
            key = (self.slots[slot].dtype.str, self.slots[slot].size.syms)
            self.free.setdefault(key, []).append(slot)


def plan_memory(graph: Graph) -> MemoryPlan:
    """The buffer plan of a closed program's top-level values."""
    return _Planner(graph).plan()
