"""Per set of run-time dims: concrete shapes, planned buffers, kernel variants.

A generated orchestrator looks up `_B`, a tuple of everything that depends on
the run-time dims (buffer views, flat views, kernel variants and extents),
keyed by its inputs' and read variables' shapes. The first call with a new
key builds it here:

1. `replay_shapes`: every equation's `abstract_eval` on the concrete input
   shapes gives every value's concrete shape (and raises where the program
   would fail: the caller then runs the interpreter, which reports the error
   naming the user's line, or handles a run-time broadcast the plan did not
   assume);
2. `KeyBuffers`: one flat buffer per memory-plan slot, as large as the
   largest value it holds at these dims, and each value's view of it;
3. each `Entry` of the lowering makes its object; entries may refuse the key
   (`Unplannable`, e.g. a kernel's broadcast pattern does not hold), and the
   key then runs through the interpreter.

Sizes never key compiled code: a new key allocates buffers, never compiles
(except a parallel variant first used at a large size).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shared_ops import AbstractArray, Primitive
from shared_ops.shapes import aval_of

from ..build.cond import cond_p
from ..compiler.kernel import pattern_shape
from ..graph.ir import Graph, Var
from ..scan import scan_p


class Unplannable(Exception):
    """These run-time dims break an assumption of the plan: run the interpreter."""


def replay_shapes(graph: Graph, known: dict[Var, tuple]) -> dict[Var, tuple]:
    """Concrete shape of every top-level value (None dims where data decide)."""
    avals = _replay(graph, {v: AbstractArray(tuple(s), v.dtype) for v, s in known.items()})
    return {v: tuple(a.shape) for v, a in avals.items()}


PROBE_DIM = 840  # a size for every run-time dim when probing (divisible by 2..8)


def shape_determined(graph: Graph) -> set[Var]:
    """Values whose shape follows from the input shapes (the replay gives them a
    concrete shape when every run-time dim is PROBE_DIM); the rest depend on data
    (a boolean mask, the branch a cond takes). Empty if the probe fails."""
    known = {v: tuple(PROBE_DIM if d is None else d for d in v.shape) for v in graph.inputs}
    try:
        shapes = replay_shapes(graph, known)
    except Exception:  # a probe size the program rejects: no refinement
        return set()
    return {v for v, s in shapes.items() if all(d is not None for d in s)}


def _replay(graph: Graph, known: dict[Var, Any]) -> dict[Var, Any]:
    avals: dict[Var, Any] = {}
    for v in list(graph.inputs) + list(graph.variables) + list(graph.constants):
        avals[v] = known.get(v, v.aval)
    for eqn in graph.eqns:
        args = [avals[x] if isinstance(x, Var) else x for x in eqn.inputs]
        if eqn.prim in SUBGRAPH_RULES:
            outs = SUBGRAPH_RULES[eqn.prim](args, **eqn.params)
        else:
            out = eqn.prim.abstract_eval(*args, **eqn.params)
            outs = list(out) if eqn.prim.multiple_results else [out]
        for v, a in zip(eqn.outputs, outs):
            avals[v] = aval_of(a) if not isinstance(a, AbstractArray) else a
    return avals


def _outputs(graph: Graph, args: list) -> list:
    avals = _replay(graph, {v: a for v, a in zip(graph.inputs, args)
                            if isinstance(a, AbstractArray)})
    return [avals[v] for v in graph.outputs]


def _join(a, b) -> AbstractArray:
    shape = tuple(x if x == y else None for x, y in zip(a.shape, b.shape))
    return AbstractArray(shape, a.dtype)


def _cond_shapes(args: list, *, true_graph: Graph, false_graph: Graph, **_) -> list:
    """Both branches replayed on the concrete operands; dims they agree on are known."""
    return [_join(a, b) for a, b in zip(_outputs(true_graph, args[1:]),
                                        _outputs(false_graph, args[1:]))]


def _scan_shapes(args: list, *, body: Graph, num_consts: int, num_carry: int, num_xs: int,
                 **_) -> list:
    """The body replayed on one step's concrete shapes; ys stacked along T."""
    consts, init, xs = (args[:num_consts], args[num_consts:num_consts + num_carry],
                        args[num_consts + num_carry:])
    steps = [AbstractArray(tuple(x.shape[1:]), x.dtype) for x in xs]
    outs = _outputs(body, consts + init + steps)
    carries = [_join(a, b) for a, b in zip(init, outs[:num_carry])]
    length = xs[0].shape[0] if xs else None
    return carries + [AbstractArray((length, *y.shape), y.dtype) for y in outs[num_carry:]]


SUBGRAPH_RULES: dict[Primitive, Callable] = {cond_p: _cond_shapes, scan_p: _scan_shapes}


@dataclass
class Storage:
    """Where values live: the memory plan's slots, or one slot per value (check mode)."""

    slot_of: dict[Var, int]
    dtypes: list[np.dtype]
    into_variable: dict[Var, Var]
    in_place: dict[Var, Var]
    escapes: list[Var]

    @classmethod
    def from_plan(cls, plan, reuse: bool = True) -> Storage:
        if reuse:
            return cls(dict(plan.slot_of), [s.dtype for s in plan.slots],
                       dict(plan.into_variable), dict(plan.in_place), list(plan.escapes))
        values = [v for v in plan.slot_of] + list(plan.into_variable)
        return cls({v: i for i, v in enumerate(values)}, [np.dtype(v.dtype) for v in values],
                   {}, {}, list(plan.escapes))


@dataclass
class KeyBuffers:
    """The buffers of one key: a flat array per slot, views per value."""

    shapes: dict[Var, tuple]
    slots: list[np.ndarray]
    storage: Storage
    views: dict[Var, np.ndarray] = field(default_factory=dict)
    memo: dict = field(default_factory=dict)  # per-key results entries share

    @classmethod
    def allocate(cls, storage: Storage, shapes: dict[Var, tuple], planned: set[Var],
                 empty: Callable = np.empty) -> KeyBuffers:
        """Slot sizes: the largest planned value each slot holds at these shapes."""
        sizes = [0] * len(storage.dtypes)
        for v in planned:
            shape = shapes.get(v)
            if shape is None or any(d is None for d in shape):
                raise Unplannable(f"{v.label} has no concrete shape")
            k = storage.slot_of[v]
            sizes[k] = max(sizes[k], math.prod(shape))
        slots = [empty(n, dt) for n, dt in zip(sizes, storage.dtypes)]
        return cls(shapes, slots, storage)

    def view(self, v: Var) -> np.ndarray:
        """`v`'s array: the first elements of its slot, in its shape (C order)."""
        a = self.views.get(v)
        if a is None:
            shape = self.shapes[v]
            a = self.views[v] = self.slots[self.storage.slot_of[v]][:math.prod(shape)] \
                .reshape(shape)
        return a

    def flat(self, v: Var) -> np.ndarray:
        """A 1-D view of `v` (a 0-d value: shape (1,))."""
        return self.view(v).reshape(-1)


@dataclass
class Entry:
    """One item of `_B`: a local name in the generated code and how to make it.

    `first` (optional) makes the object used for the key's first call only
    (kernels: a wrapper that records the compile or cache load).
    """

    name: str
    make: Callable[[KeyBuffers], Any]
    first: Callable[[KeyBuffers], Any] | None = None


def build_entries(entries: list[Entry], kb: KeyBuffers) -> tuple[tuple, tuple]:
    """(steady-state tuple, first-call tuple) for one key."""
    fast, first = [], []
    for e in entries:
        obj = e.make(kb)
        fast.append(obj)
        first.append(e.first(kb) if e.first is not None else obj)
    return tuple(fast), tuple(first)




def loop_shape(group, in_shapes: list[tuple]) -> tuple[int, ...]:
    """The kernel's loop extents: the broadcast of its array inputs' shapes."""
    arrays = [s for s, inp in zip(in_shapes, group.inputs) if not inp.scalar and inp.ndim]
    shape = tuple(np.broadcast_shapes(*arrays)) if arrays else ()
    return (1,) * (group.ndim - len(shape)) + shape


def check_kernel_shapes(group, in_shapes: list[tuple], out_shapes: list[tuple]) -> tuple:
    """The loop shape, after checking every array against the kernel's pattern
    (the kernels do not bounds-check); Unplannable if one does not fit."""
    try:
        loop = loop_shape(group, in_shapes)
    except ValueError as exc:
        raise Unplannable(str(exc)) from None
    for s, inp in zip(in_shapes, group.inputs):
        if not inp.scalar and inp.ndim and s != pattern_shape(inp.ndim, inp.broadcast, loop):
            raise Unplannable(f"{group.name}: input shape {s} outside the pattern")
    n_elem = len(group.outputs)
    for s, k in zip(out_shapes[:n_elem], group.outputs):
        rank, bcast = group.step_pattern(k)
        if s != pattern_shape(rank, bcast, loop):
            raise Unplannable(f"{group.name}: output shape {s} outside the pattern")
    if group.reduction is not None and out_shapes[-1] != group.reduction_shape(loop):
        raise Unplannable(f"{group.name}: reduction shape {out_shapes[-1]}")
    return loop
