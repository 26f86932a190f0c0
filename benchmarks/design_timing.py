"""Interleaved round-robin timing shared by the compiler design measurements."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def interleaved(fns: dict[str, Callable], rounds: int, warmup: int = 2,
                inner: int = 1) -> dict[str, list[float]]:
    """Seconds per call of each fn, one sample per round, round-robin (rotating order)."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    names = list(fns)
    samples: dict[str, list[float]] = {k: [] for k in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            fn = fns[name]
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            samples[name].append((time.perf_counter() - start) / inner)
    return samples


def medians(samples: dict[str, list[float]]) -> dict[str, float]:
    """The median of each sample list."""
    return {k: statistics.median(v) for k, v in samples.items()}
