"""Measuring variants side by side, interleaved, each failure kept to its row.

All variants of a scenario are set up first, then timed round-robin: each
round takes one sample from every variant, starting from a different one
each time, so that whatever else the machine does meanwhile hits every
variant alike. A step-based variant's sample is `plan.inner` steps; a
closed loop's sample is a 1-step run and a full run (the difference is the
per-step slope). Afterwards each variant gets a second, untimed pass of a
few steps that counts kernels and tape nodes and measures peak memory.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from typing import Any

from ..framework import Plan, Prepared, Variant
from .accounting import (
    Sample,
    by_unit,
    cache_figure,
    kernel_counts,
    measured_curve,
    modelled_curve,
    step_figures,
)
from .instrument import count_ops, measure_memory
from .interleave import round_robin
from .timing import quartiles

Progress = Callable[[str, int, int], None]


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _phases(compile_s) -> dict[str, float]:
    if compile_s is None:
        return {}
    if isinstance(compile_s, dict):
        return {str(k): float(v) for k, v in compile_s.items()}
    return {"compile": float(compile_s)}


def _first_call(first_s: float, parts: dict | None) -> dict[str, float]:
    """The first call's time, split into the compile phases a variant reports."""
    if not parts:
        return {"first call": first_s}
    split = {f"first call: {k.removeprefix('first call: ')}": v for k, v in parts.items()}
    split["first call: the rest"] = max(first_s - sum(parts.values()), 0.0)
    return split


class VariantRunner:
    """One variant under measurement: start, timed samples, finish.

    `busy_s` is every second spent on the variant (its own run, repeats and
    the instrumented pass); the row's `total_s` is its own run only, and
    `other_s` the rest (measurement overhead).
    """

    def __init__(self, variant: Variant, problem, plan: Plan, row: dict,
                 unit: str | None = None) -> None:
        self.variant, self.problem, self.plan, self.row = variant, problem, plan, row
        self.unit = unit
        self.samples: list[Sample] = []
        self.busy_s = 0.0
        self.kernels = (0, 0)

    def count_kernels(self, before: tuple[int, int]) -> bool:
        """Add the kernel loads/compiles since `before` to this variant's; True if any."""
        after = kernel_counts()
        delta = (after[0] - before[0], after[1] - before[1])
        self.kernels = (self.kernels[0] + delta[0], self.kernels[1] + delta[1])
        return delta != (0, 0)

    @property
    def remaining(self) -> int:
        return self.samples_wanted() - sum(not s.warmup for s in self.samples)

    def samples_wanted(self) -> int:
        raise NotImplementedError

    def instrument(self, run_steps: Callable[[], int]) -> None:
        """Kernels, tape nodes and peak memory over a fresh short run."""
        with measure_memory(self.variant.memory) as memory, count_ops() as counts:
            steps = max(run_steps(), 1)
        self.row.update(peak_mem_bytes=memory.peak_bytes, mem_method=memory.method)
        counted = self.variant.engine == "dyngraph" or (
            self.variant.engine == "staticgraph" and self.variant.backend in (None, "interpret"))
        if counted and counts.kernels:  # compiled backends bypass the registry's impls
            self.row.update(ops_per_step=counts.kernels / steps, ops_method="counted")
        if counts.tape_nodes:
            self.row["tape_nodes_per_step"] = counts.tape_nodes / steps

    def declare_ops(self, ops_per_step) -> None:
        """Kernels per step as the variant reports them (overrides the count)."""
        if ops_per_step is not None:
            self.row.update(ops_per_step=ops_per_step, ops_method="declared")


class StepRunner(VariantRunner):
    """A `setup(problem) -> Prepared` variant, timed step by step."""

    def samples_wanted(self) -> int:
        return self.plan.samples

    def start(self) -> None:
        before = kernel_counts()
        begin = time.perf_counter()
        self.prep = self.variant.setup(self.problem)
        self.setup_only_s = time.perf_counter() - begin
        self.row["first_s"], done = _timed(self.prep.step)
        self.setup_s = time.perf_counter() - begin
        self.first_units = done if isinstance(done, (int, float)) else None
        self.count_kernels(before)
        for _ in range(max(self.plan.warmup - 1, 0)):
            self._run(1, warmup=True)

    def _run(self, calls: int, warmup: bool = False) -> None:
        """Time `calls` steps; a recompile when the variant's compile counter or
        the kernel counts moved meanwhile."""
        step, units = self.prep.step, 0.0
        graphs = self.prep.compiles() if self.prep.compiles is not None else 0
        kernels = kernel_counts()
        start = time.perf_counter()
        for _ in range(calls):
            done = step()
            units += done if isinstance(done, (int, float)) else 0.0
        seconds = time.perf_counter() - start
        moved = self.count_kernels(kernels)
        if self.prep.compiles is not None and self.prep.compiles() != graphs:
            moved = True
        self.samples.append(Sample(seconds, calls, units or None, moved, warmup))

    def sample(self) -> None:
        self._run(self.plan.inner)

    def finish(self) -> None:
        prep: Prepared = self.prep
        self.prep = None  # the variant's state goes before the instrumented pass
        figures = step_figures(self.samples, self.unit)
        curve = measured_curve(self.setup_s, self.samples)
        phases = {"build": prep.build_s} if prep.build_s else {}
        phases.update(_phases(prep.compile_s))
        rest = self.setup_only_s - sum(phases.values())
        if rest > 1e-3 * self.setup_s:
            phases["setup (other)"] = max(rest, 0.0)
        phases.update(_first_call(self.row["first_s"], prep.extra.pop("first_call_phases", None)))
        self.row.update(figures, values=prep.values() if prep.values is not None else None,
                        build_s=prep.build_s, compile_s=_phases(prep.compile_s) or None,
                        setup_s=self.setup_s, setup_phases=phases, total_s=float(curve[-1]),
                        _cumulative=curve, timing="each step timed as run",
                        cache=cache_figure((0, 0), self.kernels))
        if self.unit:
            self.row["by_unit"] = by_unit(self.first_units, self.row["first_s"], self.samples)
        self.row.update({k: v() if callable(v) else v for k, v in prep.extra.items()})

        def short_run() -> int:
            again = self.variant.setup(self.problem)
            for _ in range(self.plan.instrument_steps):
                again.step()
            return self.plan.instrument_steps
        self.instrument(short_run)
        self.declare_ops(prep.ops_per_step)


class LoopRunner(VariantRunner):
    """A closed loop `loop(problem, steps)`, timed by the 1-step/full-run slope.

    Each run starts from scratch, so the one-step run is the setup (its first
    step included); the total is setup plus the slope for every further step
    (`full_run_s` is the median full run as measured); the repeats are
    measurement overhead.
    """

    def samples_wanted(self) -> int:
        return self.plan.loop_repeats

    def run(self, steps: int) -> tuple[float, dict]:
        seconds, result = _timed(lambda: self.variant.loop(self.problem, steps))
        return seconds, result if isinstance(result, dict) else {"losses": list(result)}

    def start(self) -> None:
        before = kernel_counts()
        self.row["first_s"], _ = self.run(1)
        self.count_kernels(before)
        self.ones: list[float] = []
        self.fulls: list[float] = []
        self.last: dict = {}

    def sample(self) -> None:
        n = self.plan.loop_steps
        one_s, _ = self.run(1)
        total, self.last = self.run(n)
        self.ones.append(one_s)
        self.fulls.append(total)
        slope = (total - one_s) / max(n - 1, 1)
        # On a loaded machine the 1-step run can outlast the full run: fall back to
        # the plain mean (it includes the setup, so it over-estimates, never under).
        self.samples.append(Sample(slope if slope > 0 else total / n))

    def finish(self) -> None:
        last, phases = self.last, _phases(self.last.get("compile_s"))
        n = self.plan.loop_steps
        figures = step_figures(self.samples, None)
        setup_s = quartiles(self.ones)[1]
        setup_phases = {"build": last["build_s"]} if last.get("build_s") else {}
        setup_phases.update(phases)
        rest = setup_s - figures["step_s"] - sum(setup_phases.values())
        if rest > 1e-3 * setup_s:
            setup_phases["setup (other)"] = rest
        setup_phases["first step"] = min(figures["step_s"], setup_s)
        figures.update(steps_run=n, recompiles=last.get("recompiles", 0),
                       recompile_s=last.get("recompile_s", 0.0))
        curve = modelled_curve(setup_s, figures["step_s"], n)
        self.row.update(figures, values=last.get("losses"), build_s=last.get("build_s"),
                        compile_s=phases or None, setup_s=setup_s, setup_phases=setup_phases,
                        total_s=float(curve[-1]), full_run_s=quartiles(self.fulls)[1],
                        _cumulative=curve,
                        cache=cache_figure((0, 0), self.kernels),
                        timing=f"closed loop: slope of {n}-step vs 1-step runs, "
                               f"{self.plan.loop_repeats} repeats")

        def short_run() -> int:
            self.variant.loop(self.problem, self.plan.instrument_steps)
            return self.plan.instrument_steps
        self.instrument(short_run)
        self.declare_ops(last.get("ops_per_step"))


def _guard(runner: VariantRunner, action: Callable[[], None]) -> bool:
    """Run one stage, adding its time to the runner's; on an exception the
    runner's row becomes an error row."""
    start = time.perf_counter()
    try:
        action()
        return True
    except Exception as exc:  # a failing engine must not hide the others
        runner.row.update(status="error", error=f"{type(exc).__name__}: {exc}",
                          traceback=traceback.format_exc())
        return False
    finally:
        runner.busy_s += time.perf_counter() - start


def _base_row(scenario: str, variant: Variant) -> dict:
    return {"scenario": scenario, "variant": variant.name, "engine": variant.engine,
            "backend": variant.backend, "kind": variant.kind, "note": variant.note}


def _availability(variant: Variant) -> str | None:
    try:
        return variant.available()
    except Exception as exc:  # an availability probe must not take the run down
        return f"availability check failed: {exc}"


def measure_variants(scenario: str, variants: list[Variant], problem, plan: Plan,
                     progress: Progress | None = None, unit: str | None = None) -> list[dict]:
    """One row per variant: measurements, or the error/skip reason; never raises.

    Every row gets `other_s`: the seconds spent on it beyond its own run
    (availability check and imports, repeated runs, the instrumented pass).
    """
    note = progress or (lambda message, i, n: None)
    rows, runners = [], []
    for i, variant in enumerate(variants):
        row = _base_row(scenario, variant)
        rows.append(row)
        checked, reason = _timed(lambda v=variant: _availability(v))
        row["other_s"] = checked
        if reason:
            row.update(status="skipped", reason=reason)
            continue
        note(f"{scenario}: setting up {variant.name}", i, len(variants))
        kind = StepRunner if variant.setup is not None else LoopRunner
        runner = kind(variant, problem, plan, row, unit)
        runners.append(runner)
        _guard(runner, runner.start)
    started = [r for r in runners if "error" not in r.row]
    _interleave(scenario, started, note)
    for i, runner in enumerate(started):
        note(f"{scenario}: counting ops and memory of {runner.variant.name}", i, len(started))
        if _guard(runner, runner.finish):
            runner.row["status"] = "ok"
    for runner in runners:
        own = runner.row.get("total_s", 0.0) if runner.row.get("status") == "ok" else 0.0
        runner.row["other_s"] += max(runner.busy_s - own, 0.0)
    return rows


def _interleave(scenario: str, runners: list[VariantRunner], note: Progress) -> None:
    """Timed samples round-robin, the starting variant rotating every round."""
    rounds = max((r.remaining for r in runners), default=0)

    def announce(k: int, total: int) -> None:
        if k % max(total // 10, 1) == 0:
            note(f"{scenario}: timing, round {k + 1} of {total}", k, total)
    round_robin(runners, rounds, lambda r: _guard(r, r.sample),
                wanted=lambda r: r.remaining > 0, on_round=announce)
