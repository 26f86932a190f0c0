"""Scenarios and their registry.

A scenario module (`comparisons/<name>.py`, or the `__init__.py` of a
subject package `comparisons/<name>/` that holds its models beside it)
defines a module-level `SCENARIO = Scenario(...)`, registers its variants
on it, and exposes `run = SCENARIO.run`. Any module or subpackage of this
package that assigns `SCENARIO` at top level is found by
`all_scenarios()`: adding a scenario is adding one module (or package).
Adding a variant to an existing scenario is one `SCENARIO.add(Variant(...))`
call (or the `@SCENARIO.variant` decorator).
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .framework import Plan, Prepared, Variant, compare_rows
from .harness.threads import pinned
from .harness.variants import Progress, measure_variants

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
    unit: str | None = None
    choices: dict[str, tuple] = field(default_factory=dict)
    validate: Callable[[Any], None] | None = None
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
        """The quick or full size, with fields overridden by keyword.

        TypeError for an unknown field or a value of the wrong type; ValueError
        for a value out of range (see `check_size`), each naming the field.
        """
        base = self.quick if quick else self.full
        unknown = set(overrides) - {f.name for f in dataclasses.fields(base)}
        if unknown:
            raise TypeError(f"{self.name}: unknown size field(s) {sorted(unknown)}; "
                            f"fields are {[f.name for f in dataclasses.fields(base)]}")
        for name, value in overrides.items():
            _check_type(self.name, name, value, getattr(base, name))
        size = dataclasses.replace(base, **overrides)
        check_size(self.name, size, self.choices)
        if self.validate is not None:
            self.validate(size)
        return size

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

    def _missing_backends(self, backend) -> list[dict]:
        """A skipped row for each requested backend no static variant here runs on."""
        have = {v.backend for v in self.all_variants() if v.kind == "static"}
        return [{"scenario": self.name, "variant": f"staticgraph-{b}", "engine": "staticgraph",
                 "backend": b, "kind": "static", "note": "", "status": "skipped", "other_s": 0.0,
                 "reason": f"this scenario has no variant on the {b} backend"}
                for b in backend or () if b not in have]

    def all_variants(self) -> list[Variant]:
        """The registered variants, references and engines first, peers last.

        A hook for scenarios that add variants lazily (see the tutorial scenario).
        """
        return sorted(self.variants, key=lambda v: KIND_ORDER.index(v.kind))

    def run(self, quick: bool = False, dtype="float64", only=None, backend=None,
            peers: bool = True, progress: Progress | None = None, **sizes) -> list[dict]:
        """Run the selected variants on one seeded problem; return result rows.

        Keyword arguments override the size fields (see `size`). BLAS and
        OpenMP pools run on one thread, as on the command line. The last row
        (kind "overhead") holds the wall time no variant's own run took, so
        the rows' `total_s` add up to the run's wall time.
        """
        begin = time.perf_counter()
        size = self.size(quick, **sizes)
        dtype = np.dtype(dtype)
        with pinned():
            problem = self.make_problem(size, dtype)
            plan = self.plan(size)
            variants = self.select(only, backend, peers)
            rows = measure_variants(self.name, variants, problem, plan, progress, self.unit)
            rows += [] if only else self._missing_backends(backend)
            if progress is not None:
                progress(f"{self.name}: done", len(variants), len(variants))
            for row in rows:
                row.update(dtype=dtype.name, size=dataclasses.asdict(size))
            compare_rows(rows)
            if self.annotate is not None:
                self.annotate(rows, problem)
        rows.append(overhead_row(self.name, rows, time.perf_counter() - begin))
        rows[-1].update(dtype=dtype.name, size=dataclasses.asdict(size))
        return rows


def overhead_row(scenario: str, rows: list[dict], wall_s: float) -> dict:
    """The run's wall time beyond the variants' own runs, split by what took it."""
    own = sum(r.get("total_s", 0.0) for r in rows if r.get("status") == "ok")
    measuring = sum(r.get("other_s", 0.0) for r in rows)
    failed = [r["variant"] for r in rows if r.get("status") == "error"]
    parts = {"imports, repeats, op-count and memory passes"
             + (f", failed variants ({', '.join(failed)})" if failed else ""): measuring,
             "data, checks and comparison": max(wall_s - own - measuring, 0.0)}
    return {"scenario": scenario, "variant": "(measurement overhead)", "engine": "-",
            "backend": "-", "kind": "overhead", "status": "overhead", "note": "",
            "total_s": wall_s - own, "wall_s": wall_s, "parts": parts}


COUNT_FIELDS = ("steps", "samples", "inner")  # measurement counts: at least 1


def _check_type(scenario: str, name: str, value, default) -> None:
    """A size value must have its default's type (an int is a valid float)."""
    kind = type(default)
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        word = _TYPE_WORDS.get(kind, kind.__name__)
        raise TypeError(f"{scenario}: size field {name} takes {word} (default {default!r}), "
                        f"not {value!r}")


_TYPE_WORDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def check_size(scenario: str, size, choices: dict[str, tuple]) -> None:
    """Generic range checks: counts >= 1, other integers >= 0, numbers finite,
    fields with `choices` one of them (ValueError naming the field)."""
    for f in dataclasses.fields(size):
        value = getattr(size, f.name)
        if f.name in choices and value not in choices[f.name]:
            raise ValueError(f"{scenario}: size field {f.name} must be one of "
                             f"{', '.join(map(str, choices[f.name]))}, not {value!r}")
        if isinstance(value, bool):
            continue
        if isinstance(value, int) and value < (1 if f.name in COUNT_FIELDS else 0):
            low = 1 if f.name in COUNT_FIELDS else 0
            raise ValueError(f"{scenario}: size field {f.name} must be >= {low}, not {value}")
        if isinstance(value, float) and not np.isfinite(value):
            raise ValueError(f"{scenario}: size field {f.name} must be finite, not {value}")


_SCENARIO_LINE = re.compile(r"^SCENARIO\s*[:=]", re.M)
_CACHE: dict[str, Scenario] = {}


def _scenario_modules() -> list[str]:
    """Modules and subpackages of this package that assign SCENARIO at top level
    (in the module, or in the subpackage's `__init__`); nothing is imported."""
    here = Path(__file__).parent
    names = []
    for info in pkgutil.iter_modules([str(here)]):
        path = here / info.name / "__init__.py" if info.ispkg else here / f"{info.name}.py"
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
