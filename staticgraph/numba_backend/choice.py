"""Choosing between two ways to run the same call by timing both, now and then.

Whether two cores beat one depends on more than sizes: on a machine shared
with other processes, a `prange` kernel's second thread or OpenBLAS's worker
thread may wait for a core for milliseconds (docs/compiler.md, "Lowering").
A `Probe` alternates option 0 and option 1 for a few calls, keeps the one
with the lower mean time (throughput: under contention the slow option's
cost is in rare, very long calls that a median would hide), and measures
again later: 2 s after a switch, twice as long each time the best stays
best (up to 8 s: the load of a shared machine changes within seconds, and a
choice made under a passing load must not outlive it), and a measurement
stops at the first call of the other option that is 3x slower than the best.
Between two measurements there are also at least `SPACING` times as many
calls as the last measurement took: a program called now and then (once a
second, say) would otherwise spend every call measuring, half of them on
the slower option; this way the other option gets at most about a tenth of
the calls, however rarely the program runs.
Results do not depend on the choice: only where the work runs does.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

PROBE_CALLS = 4  # calls per option in one measurement (alternating)
REPROBE_S = 2.0  # seconds to the next measurement after a switch
MAX_WAIT_S = 8.0  # the wait doubles while the best stays best, up to this
ABORT_RATIO = 3.0  # a call of the other option this much slower ends the measurement
WARM_CALLS = 2  # calls left alone at first (compiles, first touches of memory)
SPACING = 4  # calls between measurements, per call of the last measurement


class Probe:
    """The alternating measurement (see the module doc).

    A measurement starts with the current best, then alternates; a call of the
    other option slower than ABORT_RATIO times the best's mean ends it at once
    (under contention the slow option can cost tens of milliseconds a call).
    """

    __slots__ = ("best", "calls", "left", "samples", "next_probe", "next_call", "current",
                 "start", "wait", "first_call")

    def __init__(self, default: int = 1) -> None:
        self.best = default
        self.calls = 0
        self.left = 0  # calls left in the running measurement
        self.samples: tuple[list, list] = ([], [])
        self.next_probe = 0.0
        self.next_call = WARM_CALLS + 1  # the first call a measurement may start at
        self.first_call = 0  # the first call of the running (or last) measurement
        self.current = default
        self.start = 0.0
        self.wait = REPROBE_S

    def pick(self) -> int:
        """The option for this call (and start its clock)."""
        self.calls += 1
        if not self.left and self.calls >= self.next_call and \
                time.perf_counter() >= self.next_probe:
            self.left = 2 * PROBE_CALLS
            self.samples = ([], [])
            self.first_call = self.calls
        other = self.left % 2 == 1
        self.current = 1 - self.best if other else self.best
        self.start = time.perf_counter()
        return self.current

    def done(self) -> None:
        """Stop the clock of this call; decide at the end of a measurement."""
        if not self.left:
            return
        end = time.perf_counter()
        seconds = end - self.start
        self.samples[self.current].append(seconds)
        self.left -= 1
        best = self.samples[self.best]
        if self.current != self.best and best and seconds > ABORT_RATIO * statistics.fmean(best):
            self.left = 0
            self._next(end, switched=False)
        elif not self.left:
            switched = False
            if all(self.samples):  # the mean, not the median: a descheduled thread's
                means = [statistics.fmean(s) for s in self.samples]  # tail counts
                switched = means[1 - self.best] < means[self.best]
                self.best = 1 - self.best if switched else self.best
            self._next(end, switched)

    def _next(self, now: float, switched: bool) -> None:
        self.wait = REPROBE_S if switched else min(2 * self.wait, MAX_WAIT_S)
        self.next_probe = now + self.wait
        self.next_call = self.calls + 1 + SPACING * (self.calls + 1 - self.first_call)


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
