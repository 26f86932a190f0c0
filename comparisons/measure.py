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

from .framework import Plan, Prepared, Variant
from .instrument import count_ops, measure_memory
from .timing import quartiles, time_batches

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


def _step_stats(per_step: list[float]) -> dict:
    p25, p50, p75 = quartiles(per_step)
    spread = (p75 - p25) / 2 / p50 * 100 if p50 > 0 else 0.0
    return {"step_s": p50, "step_p25_s": p25, "step_p75_s": p75, "spread_pct": spread,
            "samples": len(per_step)}


class Runner:
    """One variant under measurement: start, timed samples, finish."""

    def __init__(self, variant: Variant, problem, plan: Plan, row: dict) -> None:
        self.variant, self.problem, self.plan, self.row = variant, problem, plan, row
        self.per_step: list[float] = []

    @property
    def remaining(self) -> int:
        return self.samples_wanted() - len(self.per_step)

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

    def fill(self, values, build_s) -> None:
        """Common row fields once the samples are in."""
        self.row.update(_step_stats(self.per_step), values=values, build_s=build_s)

    def declare_ops(self, ops_per_step) -> None:
        """Kernels per step as the variant reports them (overrides the count)."""
        if ops_per_step is not None:
            self.row.update(ops_per_step=ops_per_step, ops_method="declared")


class StepRunner(Runner):
    """A `setup(problem) -> Prepared` variant, timed step by step."""

    def samples_wanted(self) -> int:
        return self.plan.samples

    def start(self) -> None:
        self.setup_s, self.prep = _timed(lambda: self.variant.setup(self.problem))
        self.row["first_s"], _ = _timed(self.prep.step)
        for _ in range(max(self.plan.warmup - 1, 0)):
            self.prep.step()

    def sample(self) -> None:
        self.per_step += time_batches(self.prep.step, 1, self.plan.inner)

    def finish(self) -> None:
        prep: Prepared = self.prep
        self.prep = None  # the variant's state goes before the instrumented pass
        self.fill(prep.values() if prep.values is not None else None, prep.build_s)
        phases = _phases(prep.compile_s)
        if prep.compile_on_first_call:
            phases["first call"] = max(self.row["first_s"] - self.row["step_s"], 0.0)
        if self.variant.kind == "static" and prep.build_s is None and not phases:
            phases["setup"] = self.setup_s
        self.row["compile_s"] = phases or None
        self.row.update(prep.extra)

        def short_run() -> int:
            again = self.variant.setup(self.problem)
            for _ in range(self.plan.instrument_steps):
                again.step()
            return self.plan.instrument_steps
        self.instrument(short_run)
        self.declare_ops(prep.ops_per_step)


class LoopRunner(Runner):
    """A closed loop `loop(problem, steps)`, timed by the 1-step/full-run slope."""

    def samples_wanted(self) -> int:
        return self.plan.loop_repeats

    def run(self, steps: int) -> tuple[float, dict]:
        seconds, result = _timed(lambda: self.variant.loop(self.problem, steps))
        return seconds, result if isinstance(result, dict) else {"losses": list(result)}

    def start(self) -> None:
        self.row["first_s"], _ = self.run(1)
        self.ones: list[float] = []
        self.last: dict = {}

    def sample(self) -> None:
        n = self.plan.loop_steps
        one_s, _ = self.run(1)
        total, self.last = self.run(n)
        self.ones.append(one_s)
        slope = (total - one_s) / max(n - 1, 1)
        # On a loaded machine the 1-step run can outlast the full run: fall back to
        # the plain mean (it includes the setup, so it over-estimates, never under).
        self.per_step.append(slope if slope > 0 else total / n)

    def finish(self) -> None:
        last, phases = self.last, _phases(self.last.get("compile_s"))
        self.fill(last.get("losses"), last.get("build_s"))
        if self.variant.kind == "static" and last.get("build_s") is None and not phases:
            intercept = quartiles(self.ones)[1] - self.row["step_s"]
            phases["setup (intercept)"] = max(intercept, 0.0)
        self.row["compile_s"] = phases or None
        self.row["timing"] = (f"slope of {self.plan.loop_steps}-step vs 1-step runs, "
                              f"{self.plan.loop_repeats} repeats")

        def short_run() -> int:
            self.variant.loop(self.problem, self.plan.instrument_steps)
            return self.plan.instrument_steps
        self.instrument(short_run)
        self.declare_ops(last.get("ops_per_step"))


def _guard(runner: Runner, action: Callable[[], None]) -> bool:
    """Run one stage; on an exception the runner's row becomes an error row."""
    try:
        action()
        return True
    except Exception as exc:  # a failing engine must not hide the others
        runner.row.update(status="error", error=f"{type(exc).__name__}: {exc}",
                          traceback=traceback.format_exc())
        return False


def _base_row(scenario: str, variant: Variant) -> dict:
    return {"scenario": scenario, "variant": variant.name, "engine": variant.engine,
            "backend": variant.backend, "kind": variant.kind, "note": variant.note}


def _availability(variant: Variant) -> str | None:
    try:
        return variant.available()
    except Exception as exc:  # an availability probe must not take the run down
        return f"availability check failed: {exc}"


def measure_variants(scenario: str, variants: list[Variant], problem, plan: Plan,
                     progress: Progress | None = None) -> list[dict]:
    """One row per variant: measurements, or the error/skip reason; never raises."""
    note = progress or (lambda message, i, n: None)
    rows, runners = [], []
    for i, variant in enumerate(variants):
        row = _base_row(scenario, variant)
        rows.append(row)
        reason = _availability(variant)
        if reason:
            row.update(status="skipped", reason=reason)
            continue
        note(f"{scenario}: setting up {variant.name}", i, len(variants))
        kind = StepRunner if variant.setup is not None else LoopRunner
        runner = kind(variant, problem, plan, row)
        if _guard(runner, runner.start):
            runners.append(runner)
    _interleave(scenario, runners, note)
    for i, runner in enumerate(runners):
        note(f"{scenario}: counting ops and memory of {runner.variant.name}", i, len(runners))
        start = time.perf_counter()
        if _guard(runner, runner.finish):
            runner.row["status"] = "ok"
            runner.row["finish_s"] = time.perf_counter() - start
    return rows


def _interleave(scenario: str, runners: list[Runner], note: Progress) -> None:
    """Timed samples round-robin, the starting variant rotating every round."""
    rounds = max((r.remaining for r in runners), default=0)
    for k in range(rounds):
        if k % max(rounds // 10, 1) == 0:
            note(f"{scenario}: timing, round {k + 1} of {rounds}", k, rounds)
        active = [r for r in runners if "error" not in r.row and r.remaining > 0]
        if not active:
            return
        shift = k % len(active)
        for runner in active[shift:] + active[:shift]:
            if not _guard(runner, runner.sample):
                runners.remove(runner)


def measure_variant(scenario: str, variant: Variant, problem, plan: Plan) -> dict:
    """Measure a single variant on its own (see `measure_variants`)."""
    return measure_variants(scenario, [variant], problem, plan)[0]
