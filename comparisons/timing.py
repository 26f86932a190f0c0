"""Small timing helpers shared by scenarios and benchmarks."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def time_calls(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> list[float]:
    """Wall times (seconds) of `repeats` calls after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def median_spread(times: list[float]) -> tuple[float, float]:
    """Median and half the inter-quartile-ish spread (max-min)/2 of a sample."""
    if not times:
        return float("nan"), float("nan")
    return statistics.median(times), (max(times) - min(times)) / 2


def max_rel_error(values, reference) -> float:
    """Largest |a-b|/max(|b|, tiny) over two equal-length sequences."""
    import numpy as np
    a, b = np.asarray(values, dtype=float), np.asarray(reference, dtype=float)
    if a.shape != b.shape:
        return float("inf")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))
