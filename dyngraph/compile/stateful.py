"""A trace that changes state (backward, in-place updates, optimizer steps), compiled
and run as one program with updates.

The slots the trace wrote or read (`state.Slot`) that held an array when the
trace started are the program's variables: a call hands their arrays to the
runner in a state dict and the program's updates write them (in place on the
compiled backends) inside one `Transaction`, so a call that fails changes
nothing. Slots that were empty and got a value are fetched outputs, stored
after the run; slots emptied by the trace are emptied after the run, and
slots the trace zeroed (`zero_()`) are filled with zeros after it. The
outputs are returned off the tape: the trace already ran its backward.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from staticgraph.graph.ir import Graph, Var, VariableInfo
from staticgraph.runtime.backends import make_runner
from staticgraph.runtime.program import extract_program
from staticgraph.runtime.transaction import Transaction

from ..dispatch import wrap
from .slots import Slot
from .tape import own_array


@dataclass
class StatefulGraph:
    """One state-changing trace, compiled: what a call feeds, runs and stores."""

    graph: Graph
    input_vars: list[Var]           # argument tensors, then captured tensors
    output_vars: list[Var]
    feed_positions: list[int]       # the inputs fed as arrays (the rest are variables)
    slots: list[Slot]               # state read from / stored to at each call
    fresh: list[Slot]               # slots empty at the trace's start that get a value
    runner: object
    transaction: Transaction
    phases: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def runners(self) -> list:
        return [self.runner]

    def run(self, tensors: list, leaves: list) -> list:
        """One call: feed, run all-or-nothing, store the slots; the outputs, off the tape."""
        arrays = [tensors[i]._data for i in self.feed_positions]
        state = {s.var: s.read(leaves) for s in self.slots if s.var is not None}
        entrust = getattr(self.runner, "entrust", None)
        if entrust is not None:  # compiled backends update the tensors' own storage
            entrust(state.values())
        with self.lock:
            values = self.transaction.run(arrays, state)
        owned = arrays + [v for v in state.values() if isinstance(v, np.ndarray)]
        n_out = len(self.output_vars)
        outs = [own_array(v, owned) for v in values[:n_out]]
        owned += outs
        for slot, value in zip(self.fresh, values[n_out:]):
            value = own_array(value, owned)
            owned.append(value)
            slot.store(leaves, value)
        for slot in self.slots:
            if slot.zero_fill:
                slot.store_zeros(leaves)
            elif slot.var is None:
                continue
            elif slot.current is None:
                slot.store(leaves, None)
            elif slot.written:
                slot.store(leaves, state[slot.var])
        return [wrap(v) for v in outs]


def compile_stateful(graph: Graph, input_vars: list[Var], output_vars: list[Var],
                     slots: list[Slot], backend: str) -> StatefulGraph:
    """The program of a state-changing trace: inputs -> outputs, with the slots'
    updates; compiled by `backend`."""
    start = time.perf_counter()
    for slot in slots:  # tensors changed in place were graph inputs: now variables
        if slot.var is not None and slot.var in graph.inputs:
            graph.inputs.remove(slot.var)
            aval = slot.var.aval
            stand_in = np.broadcast_to(np.zeros((), aval.dtype), aval.shape)
            graph.variables[slot.var] = VariableInfo(stand_in, False, None)
    feed_positions = [i for i, v in enumerate(input_vars) if v not in graph.variables]
    computed = [s for s in slots if not s.zero_fill]  # zero fills happen after the run
    updates = [(s.var, s.current.var) for s in computed
               if s.var is not None and s.current is not None and s.current.var is not s.var]
    fresh = [s for s in computed if s.var is None and s.current is not None]
    program = extract_program(graph, list(output_vars) + [s.current.var for s in fresh],
                              [input_vars[i] for i in feed_positions], updates)
    phases = {"extract program": time.perf_counter() - start}
    start = time.perf_counter()
    runner = make_runner(program, backend)
    phases["compile (passes, lowering)"] = time.perf_counter() - start
    return StatefulGraph(graph, list(input_vars), list(output_vars), feed_positions,
                         list(slots), fresh, runner, Transaction(runner), phases)
