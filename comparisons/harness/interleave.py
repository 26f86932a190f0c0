"""Interleaved round-robin sampling: the loop every measurement here runs.

Each round takes one sample from every competitor still measuring, starting
from a different one each round, so that whatever else the machine does
meanwhile hits every competitor alike. `round_robin` is the loop itself;
`interleaved` applies it to plain callables (seconds per call).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def _always(item: object) -> bool:
    return True


def round_robin(items: Sequence[T], rounds: int, sample: Callable[[T], bool],
                wanted: Callable[[T], bool] = _always,
                on_round: Callable[[int, int], None] | None = None) -> None:
    """`rounds` rounds of `sample(item)` over the items, the order rotated every round.

    An item whose `sample` returns False is dropped for the remaining rounds;
    one for which `wanted(item)` is False sits the round out. Stops early when
    no item is wanted. `on_round(k, rounds)` is called before round k.
    """
    alive = list(items)
    for k in range(rounds):
        if on_round is not None:
            on_round(k, rounds)
        active = [item for item in alive if wanted(item)]
        if not active:
            return
        shift = k % len(active)
        for item in active[shift:] + active[:shift]:
            if not sample(item):
                alive.remove(item)


def interleaved(fns: dict[str, Callable], rounds: int, warmup: int = 2,
                inner: int = 1) -> dict[str, list[float]]:
    """Seconds per call of each fn: `warmup` untimed calls each, then one sample
    of `inner` calls per round, round-robin."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {k: [] for k in fns}

    def sample(name: str) -> bool:
        fn = fns[name]
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        samples[name].append((time.perf_counter() - start) / inner)
        return True
    round_robin(list(fns), rounds, sample)
    return samples


def medians(samples: dict[str, list[float]]) -> dict[str, float]:
    """The median of each sample list."""
    return {k: statistics.median(v) for k, v in samples.items()}
