"""The one pass list and `optimize`, which runs passes in order, checks the
graph after each one and records what each did (for `explain()`).

`passes_for(capabilities)` is the pass list of a backend: the same passes in
the same order for every backend, with the ones that rewrite for a lowering
the backend has switched on by what it declares it supports:

- "scan_loops": the scan rewrites (`staticgraph.scan.passes`) run first, on
  the whole program, so a backward scan sees its forward scan (and the
  cleanup passes and fusion then see what they moved out of the loops);
- "gemm_update": `w - lr * (a @ b)` becomes one primitive (`gemm_update.py`:
  one BLAS call on numba, one kernel on cuda), before fusion takes the
  subtraction.

`DEFAULT_PASSES` is the list of a backend that declares nothing.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from ..errors import InvalidGraphError
from ..graph.check import check_graph
from ..graph.ir import Graph
from ..scan.passes import SCAN_PASSES
from .common import GraphPass, count_eqns, is_fused
from .cse import eliminate_common_subexpressions
from .dce import eliminate_dead_code
from .fold import fold_constants
from .fusion import fuse_elementwise
from .gemm_update import fuse_gemm_update
from .simplify import simplify

PassSpec = GraphPass | tuple[str, GraphPass]

Passes = tuple[tuple[str, GraphPass], ...]
CAPABILITIES = frozenset({"scan_loops", "gemm_update"})

_CLEANUP: Passes = (
    ("dce", eliminate_dead_code),
    ("cse", eliminate_common_subexpressions),
    ("fold", fold_constants),
    ("simplify", simplify),
    ("cse", eliminate_common_subexpressions),
    ("dce", eliminate_dead_code),
)


def passes_for(capabilities: Collection[str]) -> Passes:
    """The pass list of a backend supporting `capabilities` (names from
    `CAPABILITIES`; see the module doc). ValueError names an unknown one."""
    unknown = set(capabilities) - CAPABILITIES
    if unknown:
        raise ValueError(f"passes_for: unknown capabilities {sorted(unknown)}; "
                         f"known: {sorted(CAPABILITIES)}")
    passes = SCAN_PASSES if "scan_loops" in capabilities else ()
    passes += _CLEANUP
    if "gemm_update" in capabilities:
        passes += (("gemm_update", fuse_gemm_update),)
    return passes + (("fuse", fuse_elementwise),)


DEFAULT_PASSES: Passes = passes_for(())


@dataclass
class PassRecord:
    """One pass: equations (incl. control-flow subgraphs) before and after, time."""

    name: str
    eqns_before: int
    eqns_after: int
    constants_before: int
    constants_after: int
    seconds: float
    check_seconds: float


@dataclass
class FusedSummary:
    """One fused group of the final graph, for explain()."""

    name: str
    steps: list[str]
    reduction: str | None
    sites: tuple[str, ...]


@dataclass
class OptimizeReport:
    """What `optimize` did: per pass records and the resulting fused groups."""

    records: list[PassRecord] = field(default_factory=list)
    fused: list[FusedSummary] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(r.seconds + r.check_seconds for r in self.records)

    def describe(self) -> str:
        """A table of the passes, then each fused group with its user lines."""
        lines = [f"passes ({self.seconds * 1e3:.1f} ms):",
                 f"  {'pass':<10} {'eqns':>13} {'constants':>11} {'ms':>7}"]
        for r in self.records:
            lines.append(f"  {r.name:<10} {r.eqns_before:>5} -> {r.eqns_after:<5} "
                         f"{r.constants_before:>3} -> {r.constants_after:<3} "
                         f"{(r.seconds + r.check_seconds) * 1e3:>7.2f}")
        for f in self.fused:
            red = f" + {f.reduction}" if f.reduction else ""
            lines.append(f"  {f.name}: {' '.join(f.steps)}{red}  [{', '.join(f.sites)}]")
        return "\n".join(lines)

    __str__ = describe


def _named(spec: PassSpec) -> tuple[str, GraphPass]:
    if isinstance(spec, tuple):
        return spec
    return getattr(spec, "__name__", type(spec).__name__), spec


def fused_summaries(graph: Graph) -> list[FusedSummary]:
    """The fused groups of `graph` (and of its control-flow subgraphs)."""
    out = []
    for _, eqn in graph.walk():
        if is_fused(eqn):
            group = eqn.params["group"]
            red = group.reduction.kind if group.reduction is not None else None
            out.append(FusedSummary(eqn.params["name"], [s.prim for s in group.steps], red,
                                    eqn.params["sites"]))
    return out


def optimize(graph: Graph, passes: Sequence[PassSpec] = DEFAULT_PASSES, *,
             check: bool = True) -> tuple[Graph, OptimizeReport]:
    """Apply `passes` in order; `check_graph` after each (InvalidGraphError names
    the pass that broke the graph). Returns the new graph and the report."""
    report = OptimizeReport()
    verified: dict = {}  # equations already checked: each pass re-checks only its changes
    if check:
        check_graph(graph, verified)
    for spec in passes:
        name, fn = _named(spec)
        before, consts = count_eqns(graph), len(graph.constants)
        start = time.perf_counter()
        result = fn(graph)
        middle = time.perf_counter()
        if check:
            try:
                check_graph(result, verified)
            except InvalidGraphError as exc:
                raise InvalidGraphError(f"after pass {name!r}: {exc}") from exc
        end = time.perf_counter()
        report.records.append(PassRecord(name, before, count_eqns(result), consts,
                                         len(result.constants), middle - start, end - middle))
        graph = result
    report.fused = fused_summaries(graph)
    return graph, report
