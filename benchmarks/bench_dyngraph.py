"""dyngraph's per-op overhead and the tutorial net's step time.

Per-op: a chain of 1000 small ops (mul, add, tanh in turn) on 1- and
16-element float32 tensors, in three modes: forward without grad
(`no_grad`), forward recording the tape (input requires grad), and forward
plus backward. The same code runs on dyngraph and PyTorch eager; NumPy runs
the forward only (it has no tape), as a floor.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np

import dyngraph as dg
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

from .registry import BenchContext, register
from .report import Section
from .tutorial_steps import TINY_NET, NetSize, dyngraph_step, make_data, tutorial_competitors

N_OPS = 1000
MODES = {"no_grad": "forward, no grad", "record": "forward, recording",
         "fwd_bwd": "forward + backward"}
PER_OP_TARGETS = {"record": 1.0, "fwd_bwd": 0.9}  # per op, dyngraph / PyTorch eager
TUTORIAL_TARGET = 1.2   # tutorial step <= 1.2x PyTorch eager


def chain(x, a, b, n_ops: int):
    """n_ops ops: x*a, +b, tanh, repeated; works on dyngraph, torch and NumPy."""
    tanh = np.tanh if isinstance(x, np.ndarray) else (lambda t: t.tanh())
    for i in range(n_ops):
        r = i % 3
        x = x * a if r == 0 else (x + b if r == 1 else tanh(x))
    return x


def _operands(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    full = lambda v: np.full(size, v, dtype=np.float32)  # noqa: E731
    return full(0.5), full(0.9), full(0.1)


def _engine_step(lib: ModuleType, make_tensor: Callable, size: int, mode: str,
                 n_ops: int) -> Step:
    """The chain on an engine with torch's API (dyngraph or torch itself)."""
    x0, a0, b0 = _operands(size)
    x = make_tensor(x0, mode != "no_grad")
    a, b = make_tensor(a0, False), make_tensor(b0, False)
    if mode == "no_grad":
        def step() -> None:
            with lib.no_grad():
                chain(x, a, b, n_ops)
    elif mode == "record":
        def step() -> None:
            chain(x, a, b, n_ops)
    else:
        def step() -> None:
            chain(x, a, b, n_ops).sum().backward()
    return step


def dyngraph_chain(size: int, mode: str, n_ops: int) -> Step:
    return _engine_step(dg, lambda v, rg: dg.tensor(v, requires_grad=rg), size, mode, n_ops)


def torch_chain(torch: ModuleType, size: int, mode: str, n_ops: int) -> Step:
    return _engine_step(torch, lambda v, rg: torch.tensor(v, requires_grad=rg),
                        size, mode, n_ops)


def numpy_chain(size: int, n_ops: int) -> Step:
    x, a, b = _operands(size)
    return lambda: chain(x, a, b, n_ops)


def per_op_workload(size: int, mode: str, n_ops: int) -> Workload:
    """dyngraph vs PyTorch eager vs NumPy on the op chain in one mode."""
    np_note = "" if mode == "no_grad" else "forward only"
    comps = [
        Competitor("dyngraph", "dyngraph", lambda: dyngraph_chain(size, mode, n_ops)),
        torch_competitor(lambda torch: torch_chain(torch, size, mode, n_ops)),
        Competitor("numpy", "NumPy", lambda: numpy_chain(size, n_ops), note=np_note),
    ]
    targets = [RatioTarget("dyngraph", "torch", PER_OP_TARGETS[mode])] \
        if mode in PER_OP_TARGETS else []
    return Workload(f"{MODES[mode]}, {size} elem", comps, unit="us", per=n_ops,
                    per_label="op", baselines=("torch", "numpy"), targets=targets)


def tutorial_workload(size: NetSize, one_thread: bool = False) -> Workload:
    """dyngraph's tutorial step against NumPy, PyTorch eager, JAX jit, the BLAS floor.

    `one_thread` leaves JAX out (its thread pool is fixed at import) and
    needs no settling pause (single-threaded BLAS leaves no spinning threads).
    """
    data = make_data(size)
    comps = [Competitor("dyngraph", "dyngraph", lambda: dyngraph_step(data, size.lr))]
    comps += [c for c in tutorial_competitors(data, size.lr)
              if not (one_thread and c.key == "jax")]
    name = "tutorial step, 1 thread" if one_thread else "tutorial step"
    return Workload(name, comps, unit="ms", settle_s=0.0 if one_thread else BLAS_SETTLE_S,
                    targets=[RatioTarget("dyngraph", "torch", TUTORIAL_TARGET)])


def measure_tutorial(ctx: BenchContext, size: NetSize) -> list[WorkloadResult]:
    """The step with default threads, then with BLAS and PyTorch at one thread."""
    results = [ctx.measure(tutorial_workload(size))]
    with threads.limited(1) as ok:
        if ok:
            results.append(ctx.measure(tutorial_workload(size, one_thread=True)))
    return results


PER_OP_INTRO = f"""\
A chain of {N_OPS} ops (`x*a`, `+b`, `tanh`, in turn) on float32 tensors of 1 and 16
elements; time per op. `forward + backward` ends with `.sum().backward()`. The
NumPy rows run the forward only (no tape): the floor of calling an op from Python.
Targets: dyngraph recording forward <= {PER_OP_TARGETS["record"]:.1f}x and forward+backward
<= {PER_OP_TARGETS["fwd_bwd"]:.1f}x PyTorch eager."""

TUTORIAL_INTRO = f"""\
One training step of the 'Learning PyTorch with Examples' two-layer net (N=64,
D_in=1000, H=100, D_out=10, float64): forward, backward, SGD update, loss read
back with `.item()`. JAX's setup column includes its `jit` compile. Measured with
each library's default threads, then (where threadpoolctl is installed) with NumPy's
BLAS and PyTorch held to one thread, which is steadier when other processes load the
machine; JAX's pool is fixed at import, so it sits out the second run. Target
: dyngraph <= {TUTORIAL_TARGET:.1f}x PyTorch eager."""


@register("dyngraph", "dyngraph: per-op overhead and the tutorial step")
def bench_dyngraph(ctx: BenchContext) -> list[Section]:
    n_ops = 30 if ctx.tiny else N_OPS
    per_op = [ctx.measure(per_op_workload(size, mode, n_ops))
              for mode in MODES for size in (1, 16)]
    tutorial = measure_tutorial(ctx, TINY_NET if ctx.tiny else NetSize())
    return [Section("Per-op overhead", per_op, intro=PER_OP_INTRO),
            Section("Tutorial two-layer net step", tutorial, intro=TUTORIAL_INTRO)]
