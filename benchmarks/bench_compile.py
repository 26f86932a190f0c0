"""`dg.compile` on the tutorial step, and its trace + compile cost.

Step: the tutorial two-layer net (N=64, D_in=1000, H=100, D_out=10, float64)
trained by eager dyngraph and by the same code with its loss function under
`dg.compile(backend="numba")` (forward and backward one compiled tape node),
interleaved in one run, with PyTorch eager and `torch.compile` (first call
counted as setup) where PyTorch is installed. Setup: a fresh compiled
function traced, differentiated, compiled and run once, against
staticgraph's hand-built graph of the same step built, compiled and run
once, both on a warm kernel cache (each runs once before sampling).
"""

from __future__ import annotations

from comparisons.harness import threads
from comparisons.harness.peers import torch_competitor
from comparisons.harness.workload import (
    BLAS_SETTLE_S,
    Competitor,
    RatioTarget,
    Step,
    Workload,
    WorkloadResult,
)
from comparisons.tutorial.training import sgd_update

from .compile_steps import compile_setup, compiled_step, static_setup, whole_step
from .registry import BenchContext, register
from .report import Section
from .tutorial_steps import TINY_NET, NetSize, dyngraph_step, make_data, torch_step

STEP_TARGET = 0.8   # compiled step <= 0.8x the eager dyngraph step
SETUP_TARGET = 1.0  # trace + compile <= staticgraph's hand-built graph


def torch_compiled_step(torch, data: dict, lr: float) -> Step:
    """The tutorial step with the loss under `torch.compile`; its first call
    (the compile) happens here, in the setup."""
    x, y = torch.from_numpy(data["x"]), torch.from_numpy(data["y"])
    w1 = torch.tensor(data["w1"], requires_grad=True)
    w2 = torch.tensor(data["w2"], requires_grad=True)

    @torch.compile
    def loss_fn(x, y):
        return (x.mm(w1).relu().mm(w2) - y).pow(2).sum()

    def step() -> float:
        loss = loss_fn(x, y)
        value = loss.item()
        loss.backward()
        sgd_update(torch, (w1, w2), lr)
        return value
    step()
    return step


def step_workload(size: NetSize, with_torch_compile: bool, one_thread: bool) -> Workload:
    data = make_data(size)
    comps = [Competitor("dyngraph", "dyngraph eager", lambda: dyngraph_step(data, size.lr)),
             Competitor("compiled", "dg.compile (numba), the whole step",
                        lambda: whole_step(data, size.lr)),
             Competitor("loss-only", "dg.compile (numba), the loss only",
                        lambda: compiled_step(data, size.lr)),
             torch_competitor(lambda torch: torch_step(torch, data, size.lr))]
    if with_torch_compile:
        comps.append(torch_competitor(lambda torch: torch_compiled_step(torch, data, size.lr),
                                      label="torch.compile (peer)", key="torch-compile",
                                      note="first call counted as setup"))
    name = "tutorial step, 1 thread" if one_thread else "tutorial step"
    return Workload(name, comps, unit="ms", baselines=("dyngraph", "torch"),
                    settle_s=0.0 if one_thread else BLAS_SETTLE_S,
                    targets=[RatioTarget("compiled", "dyngraph", STEP_TARGET)])


def setup_workload(size: NetSize) -> Workload:
    data = make_data(size)
    comps = [Competitor("compiled", "dg.compile: trace + gradients + compile + 1 step",
                        lambda: compile_setup(data, size.lr)),
             Competitor("static", "staticgraph: build + gradients + compile + 1 step",
                        lambda: static_setup(data, size.lr))]
    return Workload("setup on a warm cache", comps, unit="ms", baselines=("static",),
                    targets=[RatioTarget("compiled", "static", SETUP_TARGET)])


STEP_INTRO = f"""\
One training step of the tutorial two-layer net (N=64, D_in=1000, H=100, D_out=10,
float64): loss, `.item()`, `backward()`, SGD under `no_grad`. `dg.compile (numba),
the whole step` is the same code compiled whole: loss, `backward()` and the SGD
update traced into one program that updates the weights in place (`.item()` on the
returned loss). `the loss only` compiles the loss function alone: its forward and
backward run as two compiled programs and one node on the tape, the update eagerly.
`torch.compile (peer)` compiles the same loss function with PyTorch's default
inductor backend (its first call, the compile, is setup). Interleaved samples in
one process; then with NumPy's BLAS and PyTorch held to one thread. Target: the
whole step under dg.compile <= {STEP_TARGET:.1f}x dyngraph eager."""

SETUP_INTRO = """\
What a new compiled function costs before its first step returns, on a warm kernel
cache: `dg.compile` traces the whole training step, differentiates the graph with
`sg.gradients` and compiles its one program;
staticgraph builds the hand-written graph (`sg.function` with SGD updates) and
compiles it. Both then run one step. Target: dg.compile <= 1.0x
staticgraph."""


@register("compile", "dg.compile: the traced tutorial step and its compile cost")
def bench_compile(ctx: BenchContext) -> list[Section]:
    size = TINY_NET if ctx.tiny else NetSize()
    steps: list[WorkloadResult] = [ctx.measure(step_workload(size, not ctx.tiny, False))]
    with threads.limited(1) as ok:
        if ok:
            steps.append(ctx.measure(step_workload(size, False, True)))
    setup = [ctx.measure(setup_workload(size))]
    return [Section("Tutorial step through dg.compile", steps, intro=STEP_INTRO),
            Section("Trace + compile against the hand-built graph", setup, intro=SETUP_INTRO)]
