"""the staticgraph numba backend on the tutorial training step, and its compile time.

Step: the tutorial two-layer net (N=64, D_in=1000, H=100, D_out=10, float64),
written once with staticgraph (`sg.function` with SGD `updates`), compiled
by backend="numba", against hand-written NumPy, JAX `jit`, PyTorch eager
and the BLAS floor (the same five matmuls alone, into preallocated buffers),
first with each library's default threads, then with NumPy's BLAS at one
thread (threadpoolctl). Compile: a new process builds and runs the step
with empty cache dirs (cold: graphcompare's kernels and Numba's cache of the library's own
njit functions), then another with the same dirs (warm).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import staticgraph as sg
from comparisons.harness import threads
from comparisons.harness.workload import (
    BLAS_SETTLE_S,
    Competitor,
    RatioTarget,
    Step,
    Workload,
    WorkloadResult,
)
from staticgraph.numba_backend import NumbaRunner
from staticgraph.passes.pipeline import passes_for

from .registry import BenchContext, register
from .report import Section
from .tutorial_steps import TINY_NET, NetSize, make_data, tutorial_competitors

ROOT = Path(__file__).resolve().parents[1]
TARGETS = [("jax", 0.7), ("numpy", 0.5), ("blas", 1.5)]  # numba / baseline
COLD_TARGET_S, WARM_TARGET_S = 2.0, 0.3


def build_function(data: dict, lr: float, backend: str = "numba") -> sg.Function:
    """The tutorial step as one staticgraph function: loss out, SGD updates in place."""
    graph = sg.Graph("tutorial")
    with graph.as_default():
        dtype = data["x"].dtype
        x = sg.placeholder((None, data["x"].shape[1]), dtype, name="x")
        y = sg.placeholder((None, data["y"].shape[1]), dtype, name="y")
        w1 = sg.Variable(data["w1"], name="w1")
        w2 = sg.Variable(data["w2"], name="w2")
        h_relu = sg.relu(sg.matmul(x, w1))
        y_pred = sg.matmul(h_relu, w2)
        loss = sg.sum((y_pred - y) ** 2)
        grad_w1, grad_w2 = sg.gradients(loss, [w1, w2])
        updates = [(w1, w1 - lr * grad_w1), (w2, w2 - lr * grad_w2)]
        return sg.function([x, y], loss, updates=updates, backend=backend)


def numba_step(data: dict, lr: float) -> Step:
    """What a user writes: call the compiled function, read the loss as a float."""
    f = build_function(data, lr)
    x, y = data["x"], data["y"]
    return lambda: float(f(x, y))


def numba_runner_step(data: dict, lr: float) -> Step:
    """The backend's runner alone (no argument checks, no output copies)."""
    f = build_function(data, lr)
    runner, state, inputs = f.runner, f.session.state, [data["x"], data["y"]]
    f(*inputs)  # initialises the session's variables
    return lambda: float(runner(inputs, state)[0])


def numba_runner_without_gemm_update(data: dict, lr: float) -> Step:
    """The runner alone, compiled without the one-call GEMM update (`w - lr * (a @ b)`
    as a matmul then an elementwise kernel): what that hand-written BLAS path buys."""
    f = build_function(data, lr)
    inputs = [data["x"], data["y"]]
    f(*inputs)  # initialises the session's variables
    runner = NumbaRunner(f.program, passes=passes_for(("scan_loops",)))
    state = f.session.state
    return lambda: float(runner(inputs, state)[0])


def tutorial_workload(size: NetSize, one_thread: bool = False) -> Workload:
    data = make_data(size)
    comps = [Competitor("numba", "staticgraph numba", lambda: numba_step(data, size.lr)),
             Competitor("runner", "staticgraph numba, runner only",
                        lambda: numba_runner_step(data, size.lr),
                        note="no sg.function argument checks"),
             Competitor("no_gemm_update", "staticgraph numba, runner only, no GEMM update",
                        lambda: numba_runner_without_gemm_update(data, size.lr),
                        note="the update as a matmul then an elementwise kernel")]
    comps += [c for c in tutorial_competitors(data, size.lr)
              if not (one_thread and c.key == "jax")]
    name = "tutorial step, 1 BLAS thread" if one_thread else "tutorial step"
    targets = [RatioTarget("numba", base, ratio, floor=None if base == "blas" else "blas")
               for base, ratio in TARGETS if not (one_thread and base == "jax")]
    return Workload(name, comps, unit="ms", settle_s=0.0 if one_thread else BLAS_SETTLE_S,
                    baselines=("numpy", "jax", "blas"), targets=targets)


def fault_notes(results: list[WorkloadResult]) -> list[str]:
    notes = []
    for res in results:
        m = res.measurements.get("numba")
        if m is not None and m.ok:
            ok = "PASS" if m.faults_per_call == 0 else "MISS"
            notes.append(f"{res.workload.name}: staticgraph numba, {m.faults_per_call:g} minor "
                         f"page faults per step (target 0): **{ok}**")
    return notes


COMPILE_SCRIPT = textwrap.dedent("""
    import json, sys, time
    start = time.perf_counter()
    import numpy as np
    import staticgraph as sg
    import staticgraph.numba_backend
    from benchmarks.bench_static_tutorial import build_function
    from benchmarks.tutorial_steps import NetSize, make_data
    imported = time.perf_counter()
    size = NetSize()
    f = build_function(make_data(size), size.lr)
    built = time.perf_counter()
    f(make_data(size)["x"], make_data(size)["y"])
    done = time.perf_counter()
    kernels = f.runner.kernels
    print(json.dumps({"imports": imported - start, "build": built - imported,
                      "first_call": done - built, "compile": done - imported,
                      "phases": f.runner.phases,
                      "from_disk": sum(s.from_cache for k in kernels
                                       for s in k.record.specialisations),
                      "compiled": sum(not s.from_cache for k in kernels
                                      for s in k.record.specialisations)}))
""")


def compile_run(cache_dir: str) -> dict:
    """One new process building and running the step once; its timings."""
    env = dict(os.environ, GRAPHCOMPARE_CACHE_DIR=cache_dir,
               NUMBA_CACHE_DIR=os.path.join(cache_dir, "numba"))  # the library's njit too
    proc = subprocess.run([sys.executable, "-c", COMPILE_SCRIPT], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True, timeout=300)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compile_section(repeats: int) -> Section:
    """Cold and warm compile, medians over `repeats` pairs of fresh processes."""
    cold, warm = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as d:
            cold.append(compile_run(d))
            warm.append(compile_run(d))
    rows = ["| process | imports | graph + function | first call | compile (build + first "
            "call) | kernels compiled / loaded | target |", "|" + "---|" * 7]
    notes = []
    for label, runs, target in (("cold (empty cache dirs)", cold, COLD_TARGET_S),
                                ("warm (same cache dirs)", warm, WARM_TARGET_S)):
        med = {k: statistics.median(r[k] for r in runs)
               for k in ("imports", "build", "first_call", "compile")}
        ok = "PASS" if med["compile"] <= target else "MISS"
        rows.append(f"| {label} | {med['imports']:.2f} s | {med['build'] * 1e3:.0f} ms | "
                    f"{med['first_call'] * 1e3:.0f} ms | {med['compile']:.3f} s | "
                    f"{runs[0]['compiled']} / {runs[0]['from_disk']} | <= {target:g} s: "
                    f"**{ok}** |")
        notes.append(f"{label}: compile {med['compile']:.3f} s (target {target:g} s): **{ok}**")
    phases = "; ".join(f"{k} {v * 1e3:.1f} ms" for k, v in warm[0]["phases"].items())
    intro = ("A new Python process builds the tutorial step with `sg.function(..., "
             "backend=\"numba\")` and calls it once. *compile* is the build of the function "
             "(extract, passes, memory plan, code generation, kernel modules) plus the first "
             "call (kernels compiled by Numba, or loaded from the disk cache, and one step); "
             "imports (NumPy, Numba, staticgraph) are shown apart. Medians of "
             f"{repeats} process pairs.\n\n" + "\n".join(rows)
             + f"\n\nPhases of one warm process: {phases}.")
    return Section("Compile time, cold and warm", intro=intro, notes=notes)


TUTORIAL_INTRO = """\
One SGD step of the tutorial two-layer net (N=64, D_in=1000, H=100, D_out=10, float64),
the loss read back as a Python float. *staticgraph numba* calls the `sg.function` (argument
checks included); *runner only* calls the backend's runner directly. Targets:
numba <= 0.7x JAX jit, <= 0.5x NumPy, <= 1.5x the BLAS floor, 0 minor page faults per step.
The BLAS floor is the floor of the first two targets: a verdict says when the floor alone
is above its target.
The second table holds NumPy's BLAS to one thread (JAX's pool is fixed at import: left out)."""


@register("static_tutorial", "staticgraph numba: tutorial step and compile time")
def bench_static_tutorial(ctx: BenchContext) -> list[Section]:
    size = TINY_NET if ctx.tiny else NetSize()
    results = [ctx.measure(tutorial_workload(size))]
    with threads.limited(1) as ok:
        if ok:
            results.append(ctx.measure(tutorial_workload(size, one_thread=True)))
    sections = [Section("Tutorial two-layer net step, backend numba", results,
                        intro=TUTORIAL_INTRO, notes=fault_notes(results))]
    if ctx.tiny:
        sections.append(Section("Compile time, cold and warm",
                                notes=["not measured in --tiny mode (new processes)"]))
    else:
        sections.append(compile_section(1 if ctx.quick else 3))
    return sections
