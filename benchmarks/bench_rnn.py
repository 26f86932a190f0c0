"""scan compiled to one native loop. RNN BPTT, the tiny overhead-bound
RNN, and the compile cost of the RNN forward+gradient.

Targets: RNN BPTT (batch 32, input 64, hidden 128, 100 steps,
float64): staticgraph numba <= 1.0x JAX jit + lax.scan and <= 1.0x a
hand-written NumPy BPTT with the input projection hoisted; dyngraph <= 1.0x
PyTorch eager. Tiny RNN (batch 1, input 8, hidden 16, 1000 steps):
staticgraph numba <= 0.5x JAX and <= 1.5x a hand-written Numba loop;
dyngraph <= 1.0x PyTorch eager. Compile of the RNN forward+gradient: cold
<= 5 s, warm (disk cache, new process) <= 0.5 s.
"""

from __future__ import annotations

import statistics

from comparisons.harness import threads
from comparisons.harness.peers import jax_competitor, load_jax, torch_competitor
from comparisons.harness.workload import (
    BLAS_SETTLE_S,
    Competitor,
    Measurement,
    RatioTarget,
    Workload,
    WorkloadResult,
)

from . import bench_rnn_compile as compile_cost
from . import bench_rnn_steps as steps
from .registry import BenchContext, register
from .report import Section

BPTT_TARGETS = [RatioTarget("numba", "jax", 1.0), RatioTarget("numba", "numpy", 1.0),
                RatioTarget("dyngraph", "torch", 1.0)]
TINY_TARGETS = [RatioTarget("numba", "jax", 0.5), RatioTarget("numba", "numba_loop", 1.5),
                RatioTarget("dyngraph", "torch", 1.0)]
COLD_BUDGET_S, WARM_BUDGET_S = 5.0, 0.5


def _static_competitors(data: dict) -> list[Competitor]:
    return [
        Competitor("numba", "staticgraph numba", lambda: steps.static_step(data, "numba"),
                   note="backend 'numba'"),
    ]


def _size_label(size: steps.RnnSize) -> str:
    return f"B={size.batch} D={size.d_in} H={size.hidden} T={size.steps}"


def bptt_workload(size: steps.RnnSize, one_thread: bool = False) -> Workload:
    data = steps.make_data(size)
    comps = _static_competitors(data) + [
        Competitor("numpy", "NumPy BPTT (hand-written, projection hoisted)",
                   lambda: steps.numpy_step(data)),
        Competitor("dyngraph", "dyngraph (Python loop)", lambda: steps.dyngraph_step(data)),
        torch_competitor(lambda torch: steps.torch_step(torch, data),
                         label="PyTorch eager (Python loop)"),
    ]
    if not one_thread:
        comps.append(jax_competitor(lambda jax: steps.jax_step(jax, data),
                                    label="JAX jit + lax.scan"))
    name = f"RNN BPTT {_size_label(size)}" + (", 1 thread" if one_thread else "")
    return Workload(name, comps, unit="ms", baselines=("numpy", "jax", "torch"),
                    targets=[t for t in BPTT_TARGETS if not (one_thread and t.baseline == "jax")],
                    settle_s=0.0 if one_thread else BLAS_SETTLE_S)


def tiny_workload(size: steps.RnnSize) -> Workload:
    data = steps.make_data(size)
    comps = _static_competitors(data) + [
        Competitor("numba_loop", "hand-written Numba loop", lambda: steps.numba_step(data)),
        jax_competitor(lambda jax: steps.jax_step(jax, data), label="JAX jit + lax.scan"),
        Competitor("numpy", "NumPy BPTT (hand-written)", lambda: steps.numpy_step(data)),
        Competitor("dyngraph", "dyngraph (Python loop)", lambda: steps.dyngraph_step(data)),
        torch_competitor(lambda torch: steps.torch_step(torch, data),
                         label="PyTorch eager (Python loop)"),
    ]
    return Workload(f"tiny RNN {_size_label(size)}", comps, unit="us", per=size.steps,
                    per_label="time step", baselines=("jax", "numba_loop", "torch"),
                    targets=TINY_TARGETS)


def _fixed(key: str, label: str, times: list[float], note: str = "") -> Measurement:
    m = Measurement(Competitor(key, label, lambda: None, note=note), times=list(times))
    m.faults = [0.0] * len(times)
    return m


def compile_result(ctx: BenchContext) -> tuple[WorkloadResult, list[str]]:
    """Cold and warm compiles in new processes, against their budgets.

    `--tiny` (the smoke test) measures one warm compile only: a cold one
    compiles everything again, which takes seconds.
    """
    runs = 1 if ctx.tiny else (2 if ctx.quick else 3)
    if ctx.tiny:
        cold, warm = [], [compile_cost.run("static", None, tiny=True)]
    else:
        cold, warm = compile_cost.cold_and_warm(runs)
    init = [compile_cost.run("numba-init", None) for _ in range(runs)]
    ms = [_fixed("cold", "staticgraph numba, cold (empty caches)", cold),
          _fixed("warm", "staticgraph numba, warm (disk cache)", warm),
          _fixed("cold_budget", f"budget, cold ({COLD_BUDGET_S:g} s)", [COLD_BUDGET_S]),
          _fixed("warm_budget", f"budget, warm ({WARM_BUDGET_S:g} s)", [WARM_BUDGET_S])]
    if not cold:
        ms[0].competitor.make, ms[0].competitor.missing = None, "not measured (--tiny)"
    if load_jax() is not None:
        jax = [compile_cost.run("jax", None, ctx.tiny) for _ in range(runs)]
        ms.append(_fixed("jax", "JAX jit + lax.scan: trace + compile + 1st call", jax))
    wl = Workload("compile RNN forward+gradient", [m.competitor for m in ms], unit="s",
                  per_label="compile", baselines=("cold_budget", "warm_budget"),
                  targets=[RatioTarget("cold", "cold_budget", 1.0),
                           RatioTarget("warm", "warm_budget", 1.0)])
    notes = [f"Each figure: build the graph, compile, run once, in a new process (imports "
             f"excluded); median of {runs}. Numba's one-time start-up in a process (its "
             f"first call of a cached function, paid once by any Numba user) is part of "
             f"the warm figure: {statistics.median(init):.2f} s here."]
    return WorkloadResult(wl, {m.competitor.key: m for m in ms}), notes


INTRO = """\
The tanh RNN `h_t = tanh(x_t Wx + h_{t-1} Wh + b)` from h_0 = 0, loss = sum(h_T^2),
gradients w.r.t. Wx, Wh and b (float64). staticgraph builds one `sg.scan` graph and
runs it on the numba backend: each scan is one compiled loop (`staticgraph/scan/loop/`).
The backend runs the scan rewrites (`staticgraph/scan/passes/`) on the whole program: the
backward scan reads the forward scan's outputs instead of recomputing them, the input
projection runs once before the loops, the weight gradients are GEMMs after the backward
loop (dWh reading the saved h_t shifted by one step), and the loss's cotangent seeds the
backward carry instead of a zero-filled sequence."""

TINY_INTRO = """\
The same RNN at batch 1, input 8, hidden 16 over 1000 steps: the work per step is tiny,
so the cost is what each framework pays per iteration. Time per time step."""


@register("rnn", "scan: RNN BPTT, tiny RNN, compile cost")
def bench_rnn(ctx: BenchContext) -> list[Section]:
    big = steps.SMOKE if ctx.tiny else steps.BIG
    tiny = steps.SMOKE if ctx.tiny else steps.TINY
    bptt = [ctx.measure(bptt_workload(big))]
    with threads.limited(1) as ok:
        if ok:
            bptt.append(ctx.measure(bptt_workload(big, one_thread=True)))
    blas = steps.blas_note()
    sections = [Section("RNN BPTT", bptt, intro=INTRO, notes=[blas] if blas else []),
                Section("Tiny RNN, overhead-bound", [ctx.measure(tiny_workload(tiny))],
                        intro=TINY_INTRO)]
    result, notes = compile_result(ctx)
    sections.append(Section("Compile cost", [result], notes=notes))
    return sections
