"""Scenarios and their registry.

A scenario module (`comparisons/<name>.py`) defines a module-level
`SCENARIO = Scenario(...)`, registers its variants on it, and exposes
`run = SCENARIO.run`. Any module of this package that assigns `SCENARIO` at
top level is found by `all_scenarios()`: adding a scenario (the RNN one, for
instance) is adding one module. Adding a variant to an existing scenario is
one `SCENARIO.add(Variant(...))` call (or the `@SCENARIO.variant` decorator).
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .framework import Plan, Prepared, Variant, compare_rows
from .measure import Progress, measure_variants

KIND_ORDER = ("reference", "eager", "static", "baseline", "peer")


@dataclass
class Column:
    """An extra table column a scenario adds (key in the row, title, format)."""

    key: str
    title: str
    fmt: str = "{:.3g}"


@dataclass
class Scenario:
    """One model and the variants that run it.

    `make_problem(size, dtype)` builds the seeded inputs every variant gets;
    `plan(size)` says how much to measure. `curve` names what `values` holds
    when it is a per-step curve worth plotting (e.g. "loss"). `extra_plots(rows,
    out_dir)` writes scenario-specific figures (e.g. time vs sequence length)
    and returns their paths. A scenario that sweeps a size (sequence lengths)
    can subclass and override `run`, naming rows "<variant>@T=<length>".
    """

    name: str
    title: str
    order: int
    full: Any
    quick: Any
    make_problem: Callable[[Any, np.dtype], Any]
    plan: Callable[[Any], Plan]
    summary: str = ""
    curve: str | None = None
    columns: list[Column] = field(default_factory=list)
    annotate: Callable[[list[dict], Any], None] | None = None
    extra_plots: Callable[[list[dict], Any], list] | None = None
    variants: list[Variant] = field(default_factory=list)

    def add(self, variant: Variant) -> Variant:
        """Register a variant (names are unique within a scenario)."""
        if any(v.name == variant.name for v in self.variants):
            raise ValueError(f"{self.name}: variant {variant.name!r} already registered")
        self.variants.append(variant)
        return variant

    def variant(self, name: str, **options) -> Callable:
        """Decorator: register a step-based `setup(problem) -> Prepared`."""
        def register(setup: Callable[[Any], Prepared]) -> Callable[[Any], Prepared]:
            self.add(Variant(name, setup=setup, **options))
            return setup
        return register

    def size(self, quick: bool = False, **overrides):
        """The quick or full size, with fields overridden by keyword."""
        base = self.quick if quick else self.full
        unknown = set(overrides) - {f.name for f in dataclasses.fields(base)}
        if unknown:
            raise TypeError(f"{self.name}: unknown size field(s) {sorted(unknown)}; "
                            f"fields are {[f.name for f in dataclasses.fields(base)]}")
        return dataclasses.replace(base, **overrides)

    def select(self, only=None, backend=None, peers: bool = True) -> list[Variant]:
        """Variants by name, by backend (static variants only), peers or not."""
        chosen = []
        for v in self.all_variants():
            if only and v.name not in only:
                continue
            if backend and v.kind == "static" and v.backend not in backend:
                continue
            if not peers and v.kind == "peer":
                continue
            chosen.append(v)
        return chosen

    def all_variants(self) -> list[Variant]:
        """The registered variants, references and engines first, peers last.

        A hook for scenarios that add variants lazily (see tutorial_net).
        """
        return sorted(self.variants, key=lambda v: KIND_ORDER.index(v.kind))

    def run(self, quick: bool = False, dtype="float64", only=None, backend=None,
            peers: bool = True, progress: Progress | None = None, **sizes) -> list[dict]:
        """Run the selected variants on one seeded problem; return result rows.

        Keyword arguments override the size fields (see `size`).
        """
        size = self.size(quick, **sizes)
        dtype = np.dtype(dtype)
        problem = self.make_problem(size, dtype)
        plan = self.plan(size)
        variants = self.select(only, backend, peers)
        rows = measure_variants(self.name, variants, problem, plan, progress)
        if progress is not None:
            progress(f"{self.name}: done", len(variants), len(variants))
        for row in rows:
            row.update(dtype=dtype.name, size=dataclasses.asdict(size))
        compare_rows(rows)
        if self.annotate is not None:
            self.annotate(rows, problem)
        return rows


_SCENARIO_LINE = re.compile(r"^SCENARIO\s*[:=]", re.M)
_CACHE: dict[str, Scenario] = {}


def _scenario_modules() -> list[str]:
    """Modules of this package that assign SCENARIO at top level (no import needed)."""
    here = Path(__file__).parent
    names = []
    for info in pkgutil.iter_modules([str(here)]):
        path = here / f"{info.name}.py"
        if info.name.startswith("_") or not path.exists():
            continue
        if _SCENARIO_LINE.search(path.read_text(encoding="utf-8")):
            names.append(info.name)
    return names


def all_scenarios() -> dict[str, Scenario]:
    """Every scenario, by name, in their `order`."""
    if not _CACHE:
        found = [importlib.import_module(f"{__package__}.{m}").SCENARIO
                 for m in _scenario_modules()]
        for s in sorted(found, key=lambda s: (s.order, s.name)):
            _CACHE[s.name] = s
    return dict(_CACHE)


def get(name: str) -> Scenario:
    """One scenario by name (KeyError lists the known ones)."""
    scenarios = all_scenarios()
    if name not in scenarios:
        raise KeyError(f"unknown scenario {name!r}; known: {', '.join(scenarios)}")
    return scenarios[name]
