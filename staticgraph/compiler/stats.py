"""Compile-cost accounting: what each kernel cost to generate, build and compile.

One `KernelRecord` per compiled group: code generation time, the time to
write/verify/import its module, whether the module came from the disk
cache, and per specialisation (variant x argument types) the Numba compile
time, its LLVM part, and whether Numba loaded it from the disk cache. A
`CompileStats` collects records; `explain()` will report `summary()`.
"""

from __future__ import annotations

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
