"""What runs inside a Dask worker: resident variables and warm partitions.

A session keeps one `WorkerSession` per worker, in this module's
`SESSIONS` (keyed by the session's token). It holds the values of the
variables placed on the worker (keyed by Var id, so every plan of the
session sees the same values), each installed partition compiled once with
the session's backend, and the values one partition hands to a later
partition of the same worker in the same step (they never leave the
process). The functions below are what the session submits as Dask tasks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..backends import make_runner
from ..errors import DistributedError, UninitializedVariableError
from ..ir import Graph
from . import wire

SESSIONS: dict[str, WorkerSession] = {}


@dataclass
class InstalledPartition:
    """One partition as its worker runs it."""

    program: Graph
    runner: object
    sources: list  # per program input: ("feed", j) | ("remote", s, k) | ("local", var id)
    keep: list  # (output position, key): outputs later partitions on this worker read
    reads: list  # the resident variables the program reads
    bundles: list  # per destination: output positions sent there
    compile_seconds: float


@dataclass
class WorkerSession:
    """A session's state on one worker."""

    auto_init: bool
    values: dict = field(default_factory=dict)  # var id -> ndarray
    partitions: dict = field(default_factory=dict)  # (plan id, index) -> InstalledPartition
    local: dict = field(default_factory=dict)  # var id -> value for later partitions here
    bytes_received: int = 0  # cut-edge bytes that arrived from other workers


def _session(token: str) -> WorkerSession:
    ws = SESSIONS.get(token)
    if ws is None:
        raise DistributedError("this worker holds no state for the session: it was restarted "
                               "or the session was closed")
    return ws


def open_session(token: str, auto_init: bool) -> bool:
    """Create the session's state on this worker (once)."""
    SESSIONS.setdefault(token, WorkerSession(auto_init))
    return True


def close_session(token: str) -> bool:
    """Drop the session's state from this worker."""
    return SESSIONS.pop(token, None) is not None


def install(token: str, key: tuple, blob: bytes, backend: str, check_numerics: bool) -> float:
    """Unpack a partition and compile it with `backend`; the seconds it took."""
    start = time.perf_counter()
    program, sources, keep, bundles = wire.loads(blob)
    runner = make_runner(program, backend, check_numerics=check_numerics)
    seconds = time.perf_counter() - start
    used = {v for e in program.eqns for v in e.in_vars} | set(program.outputs)
    used.update(value for _, value in program.updates)
    reads = [v for v in program.variables if v in used]
    _session(token).partitions[key] = InstalledPartition(
        program, runner, sources, keep, reads, bundles, seconds)
    return seconds


def _state_for(ws: WorkerSession, part: InstalledPartition) -> dict:
    state = {}
    for v in part.program.variables:
        if v.id in ws.values:
            state[v] = ws.values[v.id]
        elif v in part.reads:
            if not ws.auto_init:
                raise UninitializedVariableError(
                    f"variable '{v.label}' is used before initialisation: run "
                    "sg.global_variables_initializer() first")
            initial = part.program.variables[v].initial
            state[v] = ws.values[v.id] = np.array(initial, copy=True)
    return state


def _owned(value: np.ndarray, state: dict) -> np.ndarray:
    """`value`, copied when it shares memory with a resident variable."""
    if isinstance(value, np.ndarray) and any(
            np.may_share_memory(value, a) for a in state.values()):
        return value.copy()
    return value


def run_partition(token: str, key: tuple, feeds: tuple, remote: list, after=None):
    """Run one installed partition for one step; returns what leaves the worker:
    one tuple of arrays per destination (a single tuple when there is one)."""
    ws = _session(token)
    part: InstalledPartition = ws.partitions[key]
    inputs = []
    for source in part.sources:
        if source[0] == "feed":
            inputs.append(feeds[source[1]])
        elif source[0] == "remote":
            value = remote[source[1]][source[2]]
            ws.bytes_received += value.nbytes
            inputs.append(value)
        else:
            inputs.append(ws.local[source[1]])
    state = _state_for(ws, part)
    outs = part.runner(inputs, state)
    for var, _ in part.program.updates:
        ws.values[var.id] = state[var]
    outs = [_owned(value, state) for value in outs]
    for position, kept_as in part.keep:
        ws.local[kept_as] = outs[position]
    bundles = tuple(tuple(outs[i] for i in positions) for positions in part.bundles)
    return bundles[0] if len(bundles) == 1 else bundles


def select(bundles: tuple, index: int) -> tuple:
    """One destination's bundle out of a partition's result."""
    return bundles[index]


def read_values(token: str, variables: list[tuple[int, np.ndarray]]) -> list:
    """Copies of resident variables; a variable never set starts from `initial`."""
    ws = _session(token)
    out = []
    for var_id, initial in variables:
        if var_id not in ws.values:
            if not ws.auto_init:
                raise UninitializedVariableError(
                    "a variable is read before initialisation: run "
                    "sg.global_variables_initializer() first")
            ws.values[var_id] = np.array(initial, copy=True)
        out.append(np.array(ws.values[var_id], copy=True))
    return out


def write_values(token: str, values: dict) -> bool:
    """Overwrite resident variables (var id -> array)."""
    _session(token).values.update(values)
    return True


def bytes_received(token: str) -> int:
    """Cut-edge bytes this worker has received for the session so far."""
    return _session(token).bytes_received

