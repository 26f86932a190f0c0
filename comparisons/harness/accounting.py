"""The timing model: every second a variant spends, and what it buys.

A step-based variant's run is a `setup` (everything before the first timed
step: build, gradients, passes, codegen, compile and the first call) followed
by `Sample`s, each one or more steps timed back to back. A sample during which
something compiled (a new graph per sequence length, a JIT retracing a new
shape, kernels compiled or loaded) is a *recompile*: its time counts in the
run's total and its cumulative curve, not in the steady-state step time.

From the samples come the row's figures (`step_figures`), its cumulative wall
time after every step (`cumulative`), and its break-even against the eager
baseline (`break_even`): the first step after which its cumulative wall time
stays below the baseline's, projected from the steady step times when the run
ended before that, or "never".
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np

from .timing import quartiles

MAX_CURVE_POINTS = 200  # cumulative curves in results.json are thinned to this


@dataclass
class Sample:
    """One timed sample: `calls` steps back to back taking `seconds` in all.

    `units` is the work those steps did when the variant reports it (time
    steps of a sequence), `recompiled` whether anything compiled meanwhile,
    `warmup` whether it was run before the timed samples.
    """

    seconds: float
    calls: int = 1
    units: float | None = None
    recompiled: bool = False
    warmup: bool = False


def kernel_counts() -> tuple[int, int]:
    """(loaded from the disk cache, compiled) kernel specialisations so far.

    Zero while staticgraph's compiler has not been imported (it is never
    imported here: peers and eager engines compile nothing of it).
    """
    stats = sys.modules.get("staticgraph.compiler.stats")
    if stats is None:
        return 0, 0
    return stats.GLOBAL_STATS.cache_hits, stats.GLOBAL_STATS.cache_misses


def cache_figure(before: tuple[int, int], after: tuple[int, int]) -> dict | None:
    """{"hits", "compiled"} kernel specialisations between two `kernel_counts`."""
    hits, compiled = after[0] - before[0], after[1] - before[1]
    if hits == 0 and compiled == 0:
        return None
    return {"hits": hits, "compiled": compiled}


def step_figures(samples: list[Sample], unit: str | None) -> dict:
    """Steady-state step time, dispersion, recompiles and step count of a run."""
    timed = [s for s in samples if not s.warmup] or samples
    steady = [s for s in timed if not s.recompiled] or timed
    p25, p50, p75 = quartiles([s.seconds / s.calls for s in steady])
    figures = {"step_s": p50, "step_p25_s": p25, "step_p75_s": p75,
               "samples": len(timed), "spread_basis": "per step"}
    spread_of = (p25, p50, p75)
    if unit and steady and all(s.units for s in steady):
        spread_of = quartiles([s.seconds / s.units for s in steady])
        figures.update(unit_s=spread_of[1], unit=unit, spread_basis=f"per {unit}")
    lo, mid, hi = spread_of
    figures["spread_pct"] = (hi - lo) / 2 / mid * 100 if mid > 0 else 0.0
    again = [s for s in samples if s.recompiled]
    figures["recompiles"] = len(again)
    figures["recompile_s"] = sum(max(s.seconds - p50 * s.calls, 0.0) for s in again)
    figures["steps_run"] = 1 + sum(s.calls for s in samples)
    return figures


def measured_curve(setup_s: float, samples: list[Sample]) -> np.ndarray:
    """Wall time after each step: entry k-1 after k steps (the first is in setup)."""
    per_call = [np.full(s.calls, s.seconds / s.calls) for s in samples]
    steps = np.concatenate(per_call) if per_call else np.zeros(0)
    return setup_s + np.concatenate([[0.0], np.cumsum(steps)])


def modelled_curve(setup_s: float, step_s: float, steps: int) -> np.ndarray:
    """Setup (its first step included) plus a steady step for each further step."""
    return setup_s + step_s * np.arange(max(steps, 1), dtype=float)


def cumulative(row: dict) -> np.ndarray:
    """A row's cumulative wall time per step: measured when it was, else modelled."""
    curve = row.get("_cumulative")
    if curve is not None:
        return np.asarray(curve, dtype=float)
    return modelled_curve(row.get("setup_s") or 0.0, row["step_s"], row.get("steps_run", 1))


def break_even(row: dict, baseline: dict) -> tuple[int | None, str]:
    """(steps, basis) after which `row`'s cumulative wall time stays below the
    baseline's. Basis "measured" (within the run), "projected" (the run ended
    first: extended with both steady step times, no further compiles), or
    "never" (steps None: behind at the end with a step no faster)."""
    mine, theirs = cumulative(row), cumulative(baseline)
    n = min(len(mine), len(theirs))
    behind = np.flatnonzero(mine[:n] >= theirs[:n])
    if behind.size == 0:
        return 1, "measured"
    if behind[-1] < n - 1:
        return int(behind[-1]) + 2, "measured"
    gain = baseline["step_s"] - row["step_s"]
    if not gain > 0:
        return None, "never"
    return n + math.ceil((mine[n - 1] - theirs[n - 1]) / gain), "projected"


def thin_curve(curve: np.ndarray) -> dict:
    """{"steps": [...], "seconds": [...]}: at most MAX_CURVE_POINTS points, the last kept."""
    n = len(curve)
    index = np.unique(np.linspace(0, n - 1, min(n, MAX_CURVE_POINTS)).round().astype(int))
    return {"steps": [int(i) + 1 for i in index], "seconds": [float(curve[i]) for i in index]}


def by_unit(first_units: float | None, first_s: float, samples: list[Sample]) -> dict:
    """Per work size (sequence length): the first step at it and the median of
    the later ones, from single-step samples. Keys are the sizes as strings."""
    firsts: dict[int, float] = {}
    later: dict[int, list[float]] = {}
    if first_units:
        firsts[int(first_units)] = first_s
    for s in samples:
        if s.calls != 1 or not s.units:
            continue
        size = int(s.units)
        if size in firsts:
            later.setdefault(size, []).append(s.seconds)
        else:
            firsts[size] = s.seconds
    return {str(size): {"first_s": firsts[size],
                        "step_s": float(np.median(later[size])) if size in later else None}
            for size in sorted(firsts)}
