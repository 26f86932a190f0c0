"""`partition`: cut a closed program by device (the pass behind `sg.device`).

Every equation gets a device: its own (`sg.device`), else the device of its
first placed input (soft placement), else `worker:0`. Variables live on
their device (`worker:0` when unplaced); feeds and constants belong to no
device and go wherever they are used.

Equations of one device are grouped by *level*: an equation's level is the
largest level among its inputs, plus one where an input comes from another
device. Every edge between partitions therefore goes to a higher level, so
the partitions, ordered by level, run one after another without cycles, and
each partition is one task. A variable read on another device is sent by
the level-0 partition of its own device; its update is committed by a
partition of its own device at a level no lower than any read of it there,
so every read of a run sees the value from before the run. A partition
whose outputs are read only on its own device is merged into that device's
next partition.

The result is a Graph: its equations are `partition_call`s, one per
partition, each holding a closed program (`params["program"]`) with the
partition's feeds and incoming cut edges as inputs, its resident variables
and their updates, and its outgoing cut edges and fetches as outputs. The
reference interpreter runs it (the numbers must equal the unpartitioned
program's); the distributed runtime ships each program to its worker once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared_ops import AbstractArray, Primitive

from ..graph.check import check_graph
from ..graph.ir import Eqn, Graph, Var
from ..graph.placement import DEFAULT_DEVICE
from ..runtime.interpreter import eval_graph


def _partition_eval(*avals, program: Graph, device: str, level: int, n_resident: int,
                    n_updates: int):
    outs = [v.aval for v in program.outputs]
    return outs + [AbstractArray(var.aval.shape, var.aval.dtype) for var, _ in program.updates]


def _partition_eval_with(run, *values, program: Graph, device: str, level: int,
                         n_resident: int, n_updates: int):
    n_in = len(program.inputs)
    env = dict(zip(program.inputs, values[:n_in]))
    env.update(zip(program.variables, values[n_in:]))
    wanted = list(program.outputs) + [value for _, value in program.updates]
    return tuple(eval_graph(program, env, wanted))


partition_p = Primitive(
    name="partition_call", impl=None, abstract_eval=_partition_eval, differentiable=False,
    doc="One device's share of a program: a closed program run as one task.",
    multiple_results=True, eval_with=_partition_eval_with)


@dataclass
class _Part:
    """A partition being built."""

    device: str
    level: int
    eqns: list = field(default_factory=list)
    inputs: list = field(default_factory=list)  # feeds and incoming cut edges
    variables: dict = field(default_factory=dict)  # resident variables read or updated
    outputs: list = field(default_factory=list)  # outgoing cut edges and fetches
    updates: list = field(default_factory=list)

    def add_input(self, v: Var) -> None:
        if v not in self.inputs:
            self.inputs.append(v)

    def add_output(self, v: Var) -> None:
        if v not in self.outputs:
            self.outputs.append(v)


class _Placer:
    """Devices and levels of a program's values and equations."""

    def __init__(self, program: Graph, default: str) -> None:
        self.program = program
        self.default = default
        self.device: dict[Var, str] = {
            v: info.device or default for v, info in program.variables.items()}
        self.level: dict[Var, int] = dict.fromkeys(program.variables, 0)
        self.eqn_place: dict[Eqn, tuple[str, int]] = {}
        for eqn in program.eqns:
            self._place(eqn)

    def _place(self, eqn: Eqn) -> None:
        placed = [v for v in eqn.in_vars if v in self.device]
        dev = eqn.device or (self.device[placed[0]] if placed else self.default)
        level = max((self.level[v] + (self.device[v] != dev) for v in placed), default=0)
        self.eqn_place[eqn] = (dev, level)
        for v in eqn.outputs:
            self.device[v], self.level[v] = dev, level


def _commit_level(placer: _Placer, program: Graph, var: Var, value: Var) -> int:
    """The level at which `var`'s update is committed on its device."""
    dev = placer.device[var]
    level = 0
    if value in placer.device and value not in program.variables:
        level = placer.level[value] + (placer.device[value] != dev)
    reads = [placer.eqn_place[e][1] for e in program.eqns
             if var in e.in_vars and placer.eqn_place[e][0] == dev]
    return max([level] + reads)


def _build_parts(program: Graph, placer: _Placer) -> dict[tuple[str, int], _Part]:
    parts: dict[tuple[str, int], _Part] = {}

    def part(key) -> _Part:
        if key not in parts:
            parts[key] = _Part(*key)
        return parts[key]

    producer: dict[Var, tuple[str, int]] = {}
    for eqn in program.eqns:
        producer.update(dict.fromkeys(eqn.outputs, placer.eqn_place[eqn]))

    def use(v: Var, at: _Part) -> None:
        if v in program.constants:
            return
        if v in program.variables:
            if placer.device[v] == at.device:
                at.variables[v] = program.variables[v]
                return
            source = part((placer.device[v], 0))
            source.variables[v] = program.variables[v]
        elif v in producer:
            source = part(producer[v])
            if source is at:
                return
        else:  # a feed
            at.add_input(v)
            return
        source.add_output(v)
        at.add_input(v)

    for eqn in program.eqns:
        at = part(placer.eqn_place[eqn])
        at.eqns.append(eqn)
        for v in eqn.in_vars:
            use(v, at)
    for var, value in program.updates:
        at = part((placer.device[var], _commit_level(placer, program, var, value)))
        at.variables[var] = program.variables[var]
        at.updates.append((var, value))
        if isinstance(value, Var):
            use(value, at)
    for v in program.outputs:
        if v in program.variables:
            source = part((placer.device[v], 0))
            source.variables[v] = program.variables[v]
            source.add_output(v)
        elif v in producer:
            part(producer[v]).add_output(v)
    return parts


def _subprogram(program: Graph, p: _Part) -> Graph:
    sub = Graph(f"{p.device}@{p.level}")
    sub.inputs = sorted(p.inputs, key=lambda v: v.id)
    order = {v: i for i, v in enumerate(program.variables)}
    sub.variables = {v: p.variables[v] for v in sorted(p.variables, key=order.__getitem__)}
    used = {x for e in p.eqns for x in e.in_vars} | set(p.outputs) | {
        value for _, value in p.updates}
    sub.constants = {v: c for v, c in program.constants.items() if v in used}
    sub.eqns = list(p.eqns)
    sub.outputs = list(p.outputs)
    sub.updates = list(p.updates)
    return check_graph(sub)


def device_order(name: str) -> tuple:
    """Sort key for device names: kind, then number."""
    kind, _, index = name.partition(":")
    return (kind != "worker", kind, int(index))


def _local_only(program: Graph, parts: dict, p: _Part) -> bool:
    """Whether every output of `p` is read only by partitions on its own device."""
    if any(v in program.outputs for v in p.outputs):
        return False
    return all(q.device == p.device for q in parts.values() for v in p.outputs
               if v in q.inputs)


def _merge_local(program: Graph, placer: _Placer) -> dict[tuple[str, int], _Part]:
    """The partitions, where one whose outputs stay on its device is merged into
    the next partition of that device (one task fewer, same order of effects)."""
    while True:
        parts = _build_parts(program, placer)
        keys = sorted(parts, key=lambda k: (k[1], device_order(k[0])))
        for key in keys:
            later = [k for k in keys if k[0] == key[0] and k[1] > key[1]]
            if later and parts[key].eqns and _local_only(program, parts, parts[key]):
                for eqn in parts[key].eqns:
                    placer.eqn_place[eqn] = later[0]
                    for v in eqn.outputs:
                        placer.level[v] = later[0][1]
                break
        else:
            return parts


def partition(program: Graph, default_device: str = DEFAULT_DEVICE) -> Graph:
    """The program as one `partition_call` per (device, level); see module doc."""
    placer = _Placer(program, default_device)
    parts = _merge_local(program, placer)
    out = Graph(f"{program.name or 'program'}:partitioned")
    out.inputs = list(program.inputs)
    out.variables = dict(program.variables)
    out.constants = {v: c for v, c in program.constants.items() if v in program.outputs}
    sent: dict[Var, Var] = {}  # variable -> the copy its device sends
    for key in sorted(parts, key=lambda k: (k[1], device_order(k[0]))):
        p = parts[key]
        sub = _subprogram(program, p)
        outputs = []
        for v in sub.outputs:
            if v in program.variables:
                sent[v] = Var(v.aval, f"{v.label}:read")
            outputs.append(sent.get(v, v))
        new_values = [Var(var.aval, f"{var.label}:new") for var, _ in sub.updates]
        params = {"program": sub, "device": p.device, "level": p.level,
                  "n_resident": len(sub.variables), "n_updates": len(sub.updates)}
        inputs = tuple(sent.get(v, v) for v in sub.inputs) + tuple(sub.variables)
        out.eqns.append(Eqn(partition_p, inputs, params, tuple(outputs) + tuple(new_values),
                            device=p.device))
        out.updates += [(var, new) for (var, _), new in zip(sub.updates, new_values)]
    out.outputs = [sent.get(v, v) for v in program.outputs]
    return check_graph(out)


def partitions_of(graph: Graph) -> list[Eqn]:
    """The `partition_call` equations of a partitioned graph, in run order."""
    return [e for e in graph.eqns if e.prim is partition_p]
