"""The scenario framework: variants, how each is measured, and the rows.

A *scenario* is one model (or workload) written idiomatically for several
*variants* (engine + backend, or a peer library). A variant is either

- step-based: `setup(problem) -> Prepared`, whose `step()` does one unit of
  work (a training step, one evaluation). Graph engines build and compile in
  `setup` and report the phases in `Prepared.build_s` / `Prepared.compile_s`;
  the framework times the first step as part of the setup, then every step
  as it runs (see `harness.accounting` for the timing model); or
- a closed loop: `loop(problem, steps)` trains from scratch for `steps`
  steps and returns the losses, or a dict with "losses" and optionally
  "build_s", "compile_s" (seconds, or {phase: seconds}) and "ops_per_step".
  The per-step time is the slope between 1-step and full runs (alternated);
  the intercept is the one-off cost (build + compile) unless reported.

`harness.variants.measure_variants` times them (interleaved); an exception becomes an
error row and the other variants still run. This module holds the data
types and the cross-row figures (agreement, break-even).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .harness.accounting import break_even
from .harness.timing import max_rel_error

KINDS = ("reference", "eager", "static", "peer", "baseline")


@dataclass
class Prepared:
    """What a step-based variant's setup returns.

    `values()` gives the numbers compared with the reference after the timed
    steps (a loss curve, an output array). `ops_per_step` is for variants the
    op counter cannot see (hand-written NumPy, compiled kernels).
    `compiles()` counts the graphs or traces compiled so far (a new graph per
    sequence length, a JIT's cache size): a step during which it grows is a
    recompile. Kernel compiles of staticgraph's compiler are seen without it.
    `step()` may return the work it did in the scenario's `unit` (the
    sequence length): the dispersion is then per unit of work.
    `compile_on_first_call` marks a JIT that compiles lazily (its first call
    is in the setup time, as every variant's is).
    `extra` holds more figures for the row; a callable value is called after
    the timed steps (e.g. the test accuracy of the trained weights).
    """

    step: Callable[[], object]
    values: Callable[[], Any] | None = None
    build_s: float | None = None
    compile_s: dict[str, float] | float | None = None
    ops_per_step: float | None = None
    compile_on_first_call: bool = False
    compiles: Callable[[], int] | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class Variant:
    """One way of running a scenario (see the module docstring).

    `kind` is one of KINDS: "reference" (the numbers every row is checked
    against), "eager" (run op by op; the first eager dyngraph row is the
    baseline that break-even is counted against), "static"
    (define-then-run: build + compile once), "peer" (another library,
    optional), "baseline" (a yardstick such as a plain copy, not checked).
    `available()` returns None, or why the variant cannot run here (then its
    row is "skipped", not failed). `memory` is "tracemalloc" or "rss".
    """

    name: str
    engine: str
    backend: str = "numpy"
    kind: str = "eager"
    setup: Callable[[Any], Prepared] | None = None
    loop: Callable[[Any, int], Any] | None = None
    available: Callable[[], str | None] = lambda: None
    memory: str = "tracemalloc"
    note: str = ""

    def __post_init__(self) -> None:
        if (self.setup is None) == (self.loop is None):
            raise ValueError(f"variant {self.name!r}: give exactly one of setup= or loop=")
        if self.kind not in KINDS:
            raise ValueError(f"variant {self.name!r}: kind must be one of {KINDS}")


def cuda_unavailable() -> str | None:
    """None when a CUDA device (or Numba's simulator) can run the cuda backend,
    else why not: the reason a cuda row shows instead of measurements."""
    try:
        from numba import cuda
    except Exception as exc:  # numba-cuda missing or broken
        return f"numba.cuda cannot be imported ({type(exc).__name__}: {exc})"
    try:
        if cuda.is_available():
            return None
    except Exception as exc:  # a driver that fails while probing
        return f"no usable CUDA device ({type(exc).__name__}: {exc})"
    return "no CUDA GPU here (numba.cuda.is_available() is False)"


def availability(backend: str) -> Callable[[], str | None]:
    """The `available` probe of a static variant on `backend`."""
    return cuda_unavailable if backend == "cuda" else (lambda: None)


@dataclass(frozen=True)
class Plan:
    """How much to measure: steps to warm up, timed samples, calls per sample."""

    warmup: int = 2
    samples: int = 20
    inner: int = 1
    instrument_steps: int = 3
    loop_steps: int = 50
    loop_repeats: int = 3


def fixed_cost(row: dict) -> float:
    """One-off seconds before the first timed step (build, compile, first call)."""
    if row.get("setup_s") is not None:
        return row["setup_s"]
    return (row.get("build_s") or 0.0) + sum((row.get("compile_s") or {}).values())


def compare_rows(rows: list[dict]) -> None:
    """Fill max_rel_err (vs the reference) and break-even (vs the eager row).

    Break-even is where a static or peer row's cumulative wall time (setup,
    recompiles and steps, as run) falls below the eager dyngraph row's for
    good; see `harness.accounting.break_even`.
    """
    ok = [r for r in rows if r.get("status") == "ok"]
    checked = [r for r in ok if r["kind"] != "baseline" and r.get("values") is not None]
    ref = next((r for r in checked if r["kind"] == "reference"), checked[0] if checked else None)
    for r in checked:
        r["max_rel_err"] = max_rel_error_of(r["values"], ref["values"])
    if ref is not None:
        ref["reference"] = True
    eagers = [r for r in ok if r["kind"] == "eager"]
    eager = next((r for r in eagers if r["engine"] == "dyngraph"), eagers[0] if eagers else None)
    for r in ok:
        if eager is None or r is eager or r["kind"] not in ("static", "peer"):
            continue
        r["break_even_steps"], r["break_even_basis"] = break_even(r, eager)
        r["break_even_vs"] = eager["variant"]


def max_rel_error_of(values, reference) -> float:
    """Max relative error, flattening arrays and lists alike."""
    a = np.asarray(values, dtype=float).ravel()
    b = np.asarray(reference, dtype=float).ravel()
    return max_rel_error(a, b)
