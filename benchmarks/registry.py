"""The bench registry: every `benchmarks/bench_*.py` module registers its benches.

A bench is a function `(ctx: BenchContext) -> list[Section]`, registered
with `@register(name, title)`. `discover()` imports every `bench_*` module
of this package; a module that fails to import (its engine not there yet)
becomes a note in the report instead of stopping the run.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from comparisons.harness.workload import FULL, Settings, Workload, WorkloadResult, measure

from .report import Section

BenchFn = Callable[["BenchContext"], list[Section]]


@dataclass(frozen=True)
class Bench:
    """A registered bench: a name for --only and a title."""

    name: str
    title: str
    fn: BenchFn


BENCHES: dict[str, Bench] = {}
IMPORT_ERRORS: dict[str, str] = {}


def register(name: str, title: str) -> Callable[[BenchFn], BenchFn]:
    """Decorator adding a bench function to the registry under `name`."""
    def add(fn: BenchFn) -> BenchFn:
        if name in BENCHES and BENCHES[name].fn is not fn:
            raise ValueError(f"bench {name!r} is already registered")
        BENCHES[name] = Bench(name, title, fn)
        return fn
    return add


@dataclass
class BenchContext:
    """What a bench gets: the settings, and `measure` with progress logging."""

    settings: Settings = FULL
    log: Callable[[str], None] = field(default=lambda msg: print(msg, file=sys.stderr))

    @property
    def quick(self) -> bool:
        return self.settings.name != "full"

    @property
    def tiny(self) -> bool:
        return self.settings.tiny

    def measure(self, workload: Workload) -> WorkloadResult:
        """Time the workload's competitors interleaved (see harness.measure)."""
        self.log(f"  measuring {workload.name} ...")
        return measure(workload, self.settings, self.log)


def discover() -> dict[str, Bench]:
    """Import every bench_* module in this package; return the registry."""
    package = importlib.import_module(__package__)
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("bench_"):
            continue
        module = f"{__package__}.{info.name}"
        try:
            importlib.import_module(module)
        except Exception as exc:  # e.g. the engine it measures is not written yet
            IMPORT_ERRORS[info.name] = f"{type(exc).__name__}: {exc}"
    return BENCHES
