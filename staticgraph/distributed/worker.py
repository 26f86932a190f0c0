"""What lives inside a Dask worker: resident variables and warm partitions.

A session creates one `PartitionHost` per worker it uses, as a Dask actor
pinned to that worker: the session calls its methods directly on the
worker, and its state stays there between steps. It holds the values of the
variables placed on the worker (keyed by Var id, so every request of the
session sees the same values), each installed partition compiled once with
the session's backend, and the values one partition hands to a later
partition of the same worker in the same step (they never leave the
process).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..errors import UninitializedVariableError
from ..graph.ir import Graph
from ..runtime.backends import make_runner
from . import wire


@dataclass
class InstalledPartition:
    """One partition as its worker runs it."""

    program: Graph
    runner: object
    sources: list  # per program input: ("feed", j) | ("remote", s, k) | ("local", key)
    keep: list  # (output position, key): outputs later partitions on this worker read
    reads: list  # the resident variables the program reads
    bundles: list  # per destination: output positions sent there
    compile_seconds: float


def _uninitialized(label: str) -> UninitializedVariableError:
    return UninitializedVariableError(f"variable '{label}' is used before initialisation: "
                                      "run sg.global_variables_initializer() first")


def _owned(value, state: dict):
    """`value`, copied when it shares memory with a resident variable."""
    if isinstance(value, np.ndarray) and any(
            np.may_share_memory(value, a) for a in state.values()):
        return value.copy()
    return value


class PartitionHost:
    """A session's state on one worker (a Dask actor)."""

    def __init__(self, auto_init: bool) -> None:
        self.auto_init = auto_init
        self.values: dict[int, np.ndarray] = {}
        self.partitions: dict[tuple, InstalledPartition] = {}
        self.local: dict[int, np.ndarray] = {}
        self.bytes_received = 0  # cut-edge bytes received from other workers
        self.compute_seconds = 0.0  # time spent inside the partitions' runners
        self.step = -1
        self.undo: dict[int, np.ndarray | None] = {}  # var id -> value before this step

    def install(self, key: tuple, blob: bytes, backend: str, check_numerics: bool) -> float:
        """Unpack a partition and compile it with `backend`; the seconds it took."""
        start = time.perf_counter()
        program, sources, keep, bundles = wire.loads(blob)
        runner = make_runner(program, backend, check_numerics=check_numerics)
        used = {v for e in program.eqns for v in e.in_vars} | set(program.outputs)
        used.update(value for _, value in program.updates)
        reads = [v for v in program.variables if v in used]
        seconds = time.perf_counter() - start
        self.partitions[key] = InstalledPartition(program, runner, sources, keep, reads,
                                                  bundles, seconds)
        return seconds

    def _state_for(self, part: InstalledPartition) -> dict:
        state = {}
        for v in part.program.variables:
            if v.id in self.values:
                state[v] = self.values[v.id]
            elif v in part.reads:
                if not self.auto_init:
                    raise _uninitialized(v.label)
                initial = part.program.variables[v].initial
                state[v] = self.values[v.id] = np.array(initial, copy=True)
        return state

    def _remember(self, step: int, part: InstalledPartition) -> None:
        """Keep the values the partition is about to update, for `rollback`."""
        if step != self.step:
            self.step, self.undo = step, {}
        for var, _ in part.program.updates:
            if var.id not in self.undo:
                old = self.values.get(var.id)
                self.undo[var.id] = None if old is None else old.copy()

    def rollback(self, step: int) -> bool:
        """Give the variables updated in `step` their values from before it."""
        if step == self.step:
            for var_id, old in self.undo.items():
                if old is None:
                    self.values.pop(var_id, None)
                else:
                    self.values[var_id] = old
            self.undo = {}
        return True

    def run(self, key: tuple, step: int, feeds: tuple, remote: tuple) -> tuple:
        """Run one installed partition in step number `step`; one tuple of arrays
        per destination (another worker's partition, or the client). A failure
        leaves this worker's variables as they were before the step."""
        part = self.partitions[key]
        self._remember(step, part)
        try:
            return self._run(part, feeds, remote)
        except BaseException:
            self.rollback(step)
            raise

    def _run(self, part: InstalledPartition, feeds: tuple, remote: tuple) -> tuple:
        inputs = []
        for source in part.sources:
            if source[0] == "feed":
                inputs.append(feeds[source[1]])
            elif source[0] == "remote":
                value = remote[source[1]][source[2]]
                self.bytes_received += value.nbytes
                inputs.append(value)
            else:
                inputs.append(self.local[source[1]])
        state = self._state_for(part)
        start = time.perf_counter()
        outs = part.runner(inputs, state)
        self.compute_seconds += time.perf_counter() - start
        for var, _ in part.program.updates:
            self.values[var.id] = state[var]
        outs = [_owned(value, state) for value in outs]
        for position, kept_as in part.keep:
            self.local[kept_as] = outs[position]
        return tuple(tuple(outs[i] for i in positions) for positions in part.bundles)

    def read_values(self, variables: list) -> list:
        """Copies of resident variables, given as (var id, label, initial value);
        one never set starts from its initial value."""
        out = []
        for var_id, label, initial in variables:
            if var_id not in self.values:
                if not self.auto_init:
                    raise _uninitialized(label)
                self.values[var_id] = np.array(initial, copy=True)
            out.append(np.array(self.values[var_id], copy=True))
        return out

    def write_values(self, values: dict) -> bool:
        """Overwrite resident variables (var id -> array)."""
        self.values.update(values)
        return True

    def counters(self) -> dict:
        """Cut-edge bytes received and seconds spent computing, so far."""
        return {"bytes_received": self.bytes_received, "compute_seconds": self.compute_seconds}
