"""Interleaved timing of competitors on one workload.

A `Workload` names several `Competitor`s that do the same work. `measure`
builds each one (timing the build plus its first call separately: that is
where JIT compilers compile), warms them up, then takes `repeats` samples
round-robin, rotating the order every round, so that whatever the machine
does meanwhile hits every competitor alike. A sample is `inner` back-to-back
calls (calibrated so a sample lasts about `min_sample_s`); it records the
wall time and the process's minor page faults (`getrusage` `ru_minflt`) per
call. Figures are medians over samples, and the report shows each one as a
ratio to the baselines measured in the same run.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from .interleave import round_robin
from .timing import relative_spread

try:
    import resource  # POSIX only
except ImportError:  # Windows
    resource = None

Step = Callable[[], object]
BLAS_SETTLE_S = 0.15  # Workload.settle_s for multi-threaded BLAS: OpenBLAS spins ~0.1 s


@dataclass(frozen=True)
class Settings:
    """How hard to measure: samples, warm-up (at least `warmup` calls and
    `warmup_s` seconds), length of one sample.

    The warm-up lasts a while, not only a few calls: a step that adapts
    itself in its first calls (the numba backend times its serial and
    parallel kernels against each other; a fresh buffer's pages are mapped
    as they are first written) is sampled once it has settled, as a
    training loop runs it.
    """

    name: str = "full"
    repeats: int = 31
    warmup: int = 3
    warmup_s: float = 0.5
    min_sample_s: float = 0.02
    max_inner: int = 10_000

    @property
    def tiny(self) -> bool:
        """Smoke-test mode: benches may shrink their workloads, numbers mean nothing."""
        return self.name == "tiny"


FULL = Settings()
QUICK = Settings(name="quick", repeats=7, warmup=2, warmup_s=0.25, min_sample_s=0.005)
TINY = Settings(name="tiny", repeats=2, warmup=1, warmup_s=0.0, min_sample_s=0.0, max_inner=1)
PRESETS = {s.name: s for s in (FULL, QUICK, TINY)}


@dataclass
class Competitor:
    """One way of doing the workload.

    `make` builds the step (allocating, tracing, compiling as needed) and
    returns a zero-argument callable doing one unit of work. `make=None`
    means the competitor cannot run here; `missing` says why (e.g. "not
    installed"). `note` qualifies the row (e.g. "forward only").
    """

    key: str
    label: str
    make: Callable[[], Step] | None
    missing: str = ""
    note: str = ""


@dataclass(frozen=True)
class RatioTarget:
    """A goal: competitor time / baseline time must be <= max_ratio.

    `floor`, when given, is a competitor doing only the part of the work no
    implementation can skip (the matmuls of a step): the report says so when
    the floor itself is above the target, which no competitor can then meet.
    """

    competitor: str
    baseline: str
    max_ratio: float
    floor: str | None = None


@dataclass
class Workload:
    """Competitors doing the same work, and how to read their figures.

    `per` units of work happen in one call (1000 for a loop of 1000 ops):
    times are shown per unit, in `unit` ("s", "ms", "us" or "ns").
    `baselines` are the competitor keys that ratios are taken against.
    `settle_s` is a pause before each sample, for workloads that call
    multi-threaded libraries: OpenBLAS's idle threads spin for about 0.1 s
    after a call (libgomp's for a few ms), which would steal a core from
    whichever competitor runs next. One untimed call follows the pause (see
    `_sample`).
    """

    name: str
    competitors: list[Competitor]
    unit: str = "ms"
    per: int = 1
    per_label: str = "step"
    baselines: tuple[str, ...] = ("numpy", "torch", "jax")
    targets: list[RatioTarget] = field(default_factory=list)
    settle_s: float = 0.0


@dataclass
class Measurement:
    """Samples of one competitor: seconds per call and minor faults per call."""

    competitor: Competitor
    times: list[float] = field(default_factory=list)
    faults: list[float] = field(default_factory=list)
    setup_s: float | None = None
    inner: int = 1
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.competitor.make is not None and self.error is None and bool(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else math.nan

    @property
    def spread(self) -> float:
        """Half the inter-quartile range, relative to the median."""
        return relative_spread(self.times)

    @property
    def faults_per_call(self) -> float:
        return statistics.median(self.faults) if self.faults else math.nan


@dataclass
class WorkloadResult:
    """All measurements of one workload, keyed by competitor key."""

    workload: Workload
    measurements: dict[str, Measurement]

    def ratio(self, key: str, baseline: str) -> float | None:
        """Median time of `key` over median time of `baseline` (None if either failed)."""
        a, b = self.measurements.get(key), self.measurements.get(baseline)
        if a is None or b is None or not a.ok or not b.ok or b.median <= 0:
            return None
        return a.median / b.median

    def verdicts(self) -> list[tuple[RatioTarget, float | None]]:
        """Each target with its measured ratio (None when it could not be measured)."""
        return [(t, self.ratio(t.competitor, t.baseline)) for t in self.workload.targets]

    def label(self, key: str) -> str:
        m = self.measurements.get(key)
        return m.competitor.label if m is not None else key


def minor_faults() -> int:
    """Minor page faults of this process so far (all threads); 0 where the OS has no count."""
    if resource is None:
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _error_text(exc: BaseException) -> str:
    where = traceback.extract_tb(exc.__traceback__)[-1:]
    site = f" ({where[0].filename.rsplit('/', 1)[-1]}:{where[0].lineno})" if where else ""
    return f"{type(exc).__name__}: {exc}{site}"


def _build(m: Measurement) -> Step | None:
    """Make the step and call it once; the time of both is the setup time."""
    gc.collect()
    start = time.perf_counter()
    try:
        step = m.competitor.make()
        step()
    except Exception as exc:  # one broken competitor must not hide the others
        m.error = _error_text(exc)
        return None
    m.setup_s = time.perf_counter() - start
    return step


def _warm_up(m: Measurement, step: Step, settings: Settings) -> bool:
    """Untimed calls, at least `settings.warmup` of them and for at least
    `settings.warmup_s`; the fastest sets `inner` so a sample lasts about
    min_sample_s."""
    once = math.inf
    calls = 0
    began = time.perf_counter()
    try:
        while calls < max(settings.warmup, 1) or \
                time.perf_counter() - began < settings.warmup_s:
            start = time.perf_counter()
            step()
            once = min(once, time.perf_counter() - start)
            calls += 1
    except Exception as exc:
        m.error = _error_text(exc)
        return False
    wanted = settings.min_sample_s / once if once > 0 else settings.max_inner
    m.inner = max(1, min(settings.max_inner, math.ceil(wanted)))
    return True


def _sample(m: Measurement, step: Step, settle_s: float = 0.0) -> bool:
    """One timed sample of `inner` calls; record time and faults per call.

    With `settle_s`, the pause (other libraries' spinning threads go idle) is
    followed by one untimed call: the pause also lets this step's own thread
    pool sleep and its caches go cold, which back-to-back steps never see.
    """
    gc.collect()
    inner = m.inner
    try:
        if settle_s > 0:
            time.sleep(settle_s)
            step()
        faults0 = minor_faults()
        start = time.perf_counter()
        for _ in range(inner):
            step()
    except Exception as exc:
        m.error = _error_text(exc)
        return False
    elapsed = time.perf_counter() - start
    m.faults.append((minor_faults() - faults0) / inner)
    m.times.append(elapsed / inner)
    return True


def measure(workload: Workload, settings: Settings = FULL,
            log: Callable[[str], None] | None = None) -> WorkloadResult:
    """Build, warm up and time every competitor of `workload`, interleaved.

    Objects alive before sampling (imported modules, the peers' runtimes,
    built steps) are frozen out of the garbage collector meanwhile: a
    collection triggered by one competitor then does not pay for scanning
    another library's heap, and the per-sample `gc.collect()` stays cheap.
    """
    measurements = {c.key: Measurement(c) for c in workload.competitors}
    gc.collect()
    gc.freeze()
    try:
        steps = _build_all(workload, measurements, settings, log)
        gc.freeze()
        settle = 0.0 if settings.tiny else workload.settle_s
        _sample_round_robin(measurements, steps, settings.repeats, settle)
    finally:
        gc.unfreeze()
    return WorkloadResult(workload, measurements)


def _build_all(workload: Workload, measurements: dict[str, Measurement], settings: Settings,
               log: Callable[[str], None] | None) -> dict[str, Step]:
    """Build and warm up each competitor that can run; log the ones that fail."""
    steps: dict[str, Step] = {}
    for key, m in measurements.items():
        if m.competitor.make is None:
            continue
        step = _build(m)
        if step is not None and _warm_up(m, step, settings):
            steps[key] = step
        elif log:
            log(f"  {workload.name} / {m.competitor.label}: {m.error}")
    return steps


def _sample_round_robin(measurements: dict[str, Measurement], steps: dict[str, Step],
                        repeats: int, settle_s: float) -> None:
    """`repeats` rounds, one sample per competitor, order rotated every round."""
    round_robin(list(steps), repeats,
                lambda key: _sample(measurements[key], steps[key], settle_s))
