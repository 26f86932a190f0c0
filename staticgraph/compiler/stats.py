"""Compile-cost accounting: what each kernel cost to generate, build and compile.

One `KernelRecord` per compiled group: code generation time, the time to
write/verify/import its module, whether the module came from the disk
cache, and per specialisation (variant x argument types) the Numba compile
time, its LLVM part, and whether Numba loaded it from the disk cache. A
`CompileStats` collects records. A `PhaseTree` times the compile phases of
one program (passes, memory plan, codegen, lowerings nested in it) for
`explain()`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Specialisation:
    """One Numba compilation (or cache load) of one kernel variant."""

    variant: str
    signature: str
    seconds: float  # wall time of the first call: compile or load, plus one run
    llvm_seconds: float  # Numba's own LLVM timer (0 when loaded from cache)
    from_cache: bool


@dataclass
class KernelRecord:
    """Costs of one fused kernel."""

    name: str
    key: str
    codegen_seconds: float = 0.0
    build_seconds: float = 0.0  # write + verify + import of the generated module
    source: str = "miss"  # "memory", "disk" (module found on disk) or "miss"
    specialisations: list[Specialisation] = field(default_factory=list)

    @property
    def compile_seconds(self) -> float:
        return sum(s.seconds for s in self.specialisations if not s.from_cache)

    @property
    def load_seconds(self) -> float:
        return sum(s.seconds for s in self.specialisations if s.from_cache)

    def line(self) -> str:
        specs = ", ".join(f"{s.variant}:{'hit' if s.from_cache else 'compiled'}"
                          f" {s.seconds * 1e3:.0f} ms" for s in self.specialisations)
        return (f"{self.name} [{self.key[:12]}] module {self.source}, codegen "
                f"{self.codegen_seconds * 1e3:.1f} ms, build {self.build_seconds * 1e3:.1f} ms"
                + (f"; {specs}" if specs else ""))


@dataclass
class CompileStats:
    """All kernel records of a compiler (or of the process: `GLOBAL_STATS`)."""

    records: list[KernelRecord] = field(default_factory=list)

    def add(self, record: KernelRecord) -> KernelRecord:
        self.records.append(record)
        return record

    @property
    def codegen_seconds(self) -> float:
        return sum(r.codegen_seconds for r in self.records)

    @property
    def compile_seconds(self) -> float:
        return sum(r.compile_seconds for r in self.records)

    @property
    def llvm_seconds(self) -> float:
        return sum(s.llvm_seconds for r in self.records for s in r.specialisations)

    @property
    def cache_hits(self) -> int:
        return sum(s.from_cache for r in self.records for s in r.specialisations)

    @property
    def cache_misses(self) -> int:
        return sum(not s.from_cache for r in self.records for s in r.specialisations)

    def summary(self) -> str:
        head = (f"{len(self.records)} kernels: codegen {self.codegen_seconds * 1e3:.1f} ms, "
                f"compile {self.compile_seconds:.2f} s (LLVM {self.llvm_seconds:.2f} s), "
                f"cache {self.cache_hits} hits / {self.cache_misses} misses")
        return "\n".join([head] + ["  " + r.line() for r in self.records])


GLOBAL_STATS = CompileStats()


@dataclass
class Phase:
    """One compile phase: its seconds (children included), how often it ran,
    the phases inside it, and when it first started (perf_counter)."""

    name: str
    seconds: float = 0.0
    calls: int = 0
    first_start: float = 0.0
    last_end: float = 0.0
    children: dict[str, Phase] = field(default_factory=dict)

    def child(self, name: str, start: float) -> Phase:
        node = self.children.get(name)
        if node is None:
            node = self.children[name] = Phase(name, first_start=start)
        return node

    def lines(self, depth: int, max_depth: int | None) -> list[tuple[int, str, float, int]]:
        """(depth, name, seconds, calls) of this phase's children, depth first,
        with each parent's own remainder as "(other)" when it has children."""
        out = []
        for node in self.children.values():
            out.append((depth, node.name, node.seconds, node.calls))
            if node.children and (max_depth is None or depth + 1 < max_depth):
                out += node.lines(depth + 1, max_depth)
                rest = node.seconds - sum(c.seconds for c in node.children.values())
                if rest > 1e-4:
                    out.append((depth + 1, "(other)", rest, 0))
        return out


ADOPT_SLACK_S = 1e-3  # between a caller's own clock reading and `add`'s


class PhaseTree:
    """Compile phases as a tree, so nested costs are never summed twice.

    `timed(name)` is a context manager timing a phase nested in whichever is
    open; `add(name, seconds)` records a phase measured by its caller under
    the open phase, adopting the phases that ran within those seconds (a
    lowering that lowers subgraphs reports its total after them). `total` is
    the sum of the top-level phases.
    """

    def __init__(self) -> None:
        self.root = Phase("compile")
        self._open = [self.root]

    @contextmanager
    def timed(self, name: str) -> Iterator[Phase]:
        start = time.perf_counter()
        node = self._open[-1].child(name, start)
        self._open.append(node)
        try:
            yield node
        finally:
            self._open.pop()
            node.last_end = time.perf_counter()
            node.seconds += node.last_end - start
            node.calls += 1

    def add(self, name: str, seconds: float) -> Phase:
        now = time.perf_counter()
        begin = now - seconds
        parent = self._open[-1]
        inside = [k for k, c in parent.children.items() if k != name
                  and c.first_start >= begin - ADOPT_SLACK_S and c.last_end > begin]
        node = parent.child(name, begin)
        node.last_end = now
        for key in inside:
            node.children[key] = parent.children.pop(key)
        node.seconds += seconds
        node.calls += 1
        return node

    @property
    def total(self) -> float:
        return sum(c.seconds for c in self.root.children.values())

    def top_level(self) -> dict[str, float]:
        """{phase: seconds} of the top-level phases."""
        return {name: c.seconds for name, c in self.root.children.items()}

    def format(self, max_depth: int | None = None, indent: str = "  ") -> list[str]:
        """One line per phase, nested phases indented under their parent."""
        lines = []
        for depth, name, seconds, calls in self.root.lines(0, max_depth):
            label = indent * depth + name + (f" (x{calls})" if calls > 1 else "")
            lines.append(f"{label:<52} {_fmt(seconds):>10}")
        return lines


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"
