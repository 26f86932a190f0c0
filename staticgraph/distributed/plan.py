"""From a partitioned program to what one distributed step calls.

For every partition: where each of its inputs comes from (a feed, a bundle
from a partition on another worker, or a value an earlier partition of the
same worker kept there), which of its outputs a later partition of the same
worker reads, and the bundles it sends away: one per partition of another
worker that reads its outputs, and one for the client (fetches).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..graph.ir import Graph, Var
from ..passes.partition import partitions_of


@dataclass
class PartitionPlan:
    """One partition: its program and how it is wired into a step."""

    device: str
    level: int
    program: Graph
    sources: list = field(default_factory=list)  # see worker.InstalledPartition
    feeds: list = field(default_factory=list)  # indices into the session's feed list
    remote: list = field(default_factory=list)  # (partition index, bundle index)
    keep: dict = field(default_factory=dict)  # output position -> id it is kept under
    dests: list = field(default_factory=list)  # partition index, or "client"
    bundles: list = field(default_factory=list)  # per dest: output positions
    after: int | None = None  # the previous partition on the same device


@dataclass
class CutEdge:
    """A value that crosses from one device to another every step."""

    var: Var
    source: int
    target: int


@dataclass
class StepPlan:
    """Everything a step needs, computed once per request."""

    graph: Graph  # the partitioned program
    parts: list[PartitionPlan]
    fetches: list  # per output: ("feed", j) | ("constant", value) | ("part", p, b, k)
    cut_edges: list[CutEdge]

    @property
    def tasks_per_step(self) -> int:
        """One call per partition, on its worker."""
        return len(self.parts)

    def levels(self) -> list[list[int]]:
        """Partition indices grouped by level: a group runs at once, the groups in order."""
        groups: dict[int, list[int]] = {}
        for i, p in enumerate(self.parts):
            groups.setdefault(p.level, []).append(i)
        return [groups[level] for level in sorted(groups)]


def _dest_bundle(part: PartitionPlan, dest) -> int:
    if dest not in part.dests:
        part.dests.append(dest)
        part.bundles.append([])
    return part.dests.index(dest)


def _add_to_bundle(part: PartitionPlan, dest, position: int) -> tuple[int, int]:
    b = _dest_bundle(part, dest)
    if position not in part.bundles[b]:
        part.bundles[b].append(position)
    return b, part.bundles[b].index(position)


def build_step_plan(graph: Graph) -> StepPlan:
    """The StepPlan of a partitioned program (see module doc)."""
    eqns = partitions_of(graph)
    feed_index = {v: j for j, v in enumerate(graph.inputs)}
    producer: dict[Var, tuple[int, int]] = {}
    parts: list[PartitionPlan] = []
    last_on: dict[str, int] = {}
    cut: list[CutEdge] = []
    for i, eqn in enumerate(eqns):
        p = PartitionPlan(eqn.params["device"], eqn.params["level"], eqn.params["program"],
                          after=last_on.get(eqn.params["device"]))
        last_on[p.device] = i
        n_moving = len(p.program.inputs)
        for v in eqn.inputs[:n_moving]:
            if v in feed_index:
                p.sources.append(("feed", len(p.feeds)))
                p.feeds.append(feed_index[v])
                continue
            s, position = producer[v]
            src = parts[s]
            if src.device == p.device:
                src.keep[position] = v.id
                p.sources.append(("local", v.id))
                continue
            b, k = _add_to_bundle(src, i, position)
            if (s, b) not in p.remote:
                p.remote.append((s, b))
            p.sources.append(("remote", p.remote.index((s, b)), k))
            cut.append(CutEdge(v, s, i))
        for k, v in enumerate(eqn.outputs[:len(p.program.outputs)]):
            producer[v] = (i, k)
        parts.append(p)
    fetches = []
    for v in graph.outputs:
        if v in feed_index:
            fetches.append(("feed", feed_index[v]))
        elif v in graph.constants:
            fetches.append(("constant", graph.constants[v]))
        else:
            s, position = producer[v]
            b, k = _add_to_bundle(parts[s], "client", position)
            fetches.append(("part", s, b, k))
    return StepPlan(graph, parts, fetches, cut)


def worker_payload(part: PartitionPlan) -> tuple:
    """What `worker.install` unpacks: program, sources, kept outputs, bundles."""
    return part.program, part.sources, sorted(part.keep.items()), part.bundles


def nbytes_of(var: Var) -> int | None:
    """Bytes of a value of `var`'s aval, None where a dim is known only at run time."""
    if None in var.aval.shape:
        return None
    return int(np.prod(var.aval.shape, dtype=np.int64)) * np.dtype(var.aval.dtype).itemsize
