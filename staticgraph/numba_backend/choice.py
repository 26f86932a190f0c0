"""Choosing between two ways to run the same call by timing both, now and then.

Whether two cores beat one depends on more than sizes: on a machine shared
with other processes, a `prange` kernel's second thread or OpenBLAS's worker
thread may wait for a core for milliseconds (docs/compiler.md, "Lowering").
A `Probe` alternates option 0 and option 1 for a few calls, keeps the one
with the lower median time, and measures again every `REPROBE_S` seconds.
Results do not depend on the choice: only where the work runs does.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

PROBE_CALLS = 4  # calls per option in one measurement (alternating)
REPROBE_S = 2.0  # seconds between measurements
WARM_CALLS = 2  # calls left alone at first (compiles, first touches of memory)


class Probe:
    """The alternating measurement (see the module doc)."""

    __slots__ = ("best", "calls", "left", "samples", "next_probe", "current", "start")

    def __init__(self, default: int = 1) -> None:
        self.best = default
        self.calls = 0
        self.left = 0  # calls left in the running measurement
        self.samples: tuple[list, list] = ([], [])
        self.next_probe = 0.0
        self.current = default
        self.start = 0.0

    def pick(self) -> int:
        """The option for this call (and start its clock)."""
        self.calls += 1
        if not self.left and self.calls > WARM_CALLS and time.perf_counter() >= self.next_probe:
            self.left = 2 * PROBE_CALLS
            self.samples = ([], [])
        self.current = self.left % 2 if self.left else self.best
        self.start = time.perf_counter()
        return self.current

    def done(self) -> None:
        """Stop the clock of this call; decide at the end of a measurement."""
        if not self.left:
            return
        end = time.perf_counter()
        self.samples[self.current].append(end - self.start)
        self.left -= 1
        if not self.left:
            if all(self.samples):
                first, second = (statistics.median(s) for s in self.samples)
                self.best = 1 if second <= first else 0
            self.next_probe = end + REPROBE_S


class VariantChoice:
    """A kernel's serial and parallel variants at one key: the faster lately.

    Each variant's first call goes through `kernel.launch`, which compiles (or
    loads) it and records the cost; it is not timed.
    """

    def __init__(self, kernel: Any, serial: str, parallel: str) -> None:
        self.kernel = kernel
        self.names = (serial, parallel)
        self.fns = (kernel.fns[serial], kernel.fns[parallel])
        self.ready = [False, False]
        self.probe = Probe(default=1)

    def __call__(self, *args: Any) -> None:
        i = self.probe.pick()
        if not self.ready[i]:
            self.kernel.launch(self.names[i], list(args))  # untimed: the probe asks again
            self.ready[i] = True
            return
        self.fns[i](*args)
        self.probe.done()

    def describe(self) -> str:
        return f"{self.kernel.group.name}: {self.names[self.probe.best]} (measured)"
