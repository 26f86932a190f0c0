"""Dispersion, formatting and agreement helpers shared by scenarios and benchmarks."""

from __future__ import annotations

import math
import statistics

import numpy as np


def quartiles(times: list[float]) -> tuple[float, float, float]:
    """(25th percentile, median, 75th percentile) of a sample."""
    if not times:
        nan = float("nan")
        return nan, nan, nan
    p25, p50, p75 = np.percentile(np.asarray(times, dtype=float), [25, 50, 75])
    return float(p25), float(p50), float(p75)


def relative_spread(times: list[float]) -> float:
    """(q3 - q1) / 2 / median; (max - min) / 2 / median below four samples."""
    if len(times) < 2:
        return math.nan
    med = statistics.median(times)
    if len(times) >= 4:
        q1, _, q3 = statistics.quantiles(times, n=4)
    else:
        q1, q3 = min(times), max(times)
    return (q3 - q1) / 2 / med if med > 0 else math.nan


def max_rel_error(values, reference) -> float:
    """Largest |a-b|/max(|b|, tiny) over two equal-length sequences."""
    a, b = np.asarray(values, dtype=float), np.asarray(reference, dtype=float)
    if a.shape != b.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def fmt_seconds(seconds: float | None) -> str:
    """A duration with a unit that keeps 3 significant digits (ns .. s)."""
    if seconds is None or seconds != seconds:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(seconds) >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_bytes(n: float | None) -> str:
    """A byte count in B, KB, MB or GB (powers of 1024)."""
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB"):
        if abs(n) < 1024:
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.3g} GB"


def compiled_ops_per_run(session) -> int | None:
    """Operations a compiled backend runs per `sess.run`: the equations of its
    optimised program (fused loops, matmuls, fallbacks), declared views excluded; None
    for the interpreter, whose ops the registry count already sees."""
    counts = [sum(not e.prim.views_for(e.params) for e in plan.runner.optimized.eqns)
              for plan in getattr(session, "_plans", {}).values()
              if hasattr(plan.runner, "optimized")]
    return max(counts) if counts else None
