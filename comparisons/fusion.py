"""Scenario "fusion": an elementwise chain, op by op vs fused.

    out = tanh(x*a + b) * sigmoid(x) - exp(-x*x)        (a, b scalars)

Run op by op, each op reads and writes a whole array and leaves a temporary
(NumPy makes 12 passes over memory, dyngraph 9, one per primitive). A fused
kernel reads x once and writes out once: the least traffic possible, that
of a plain copy. So the rows report effective bandwidth, 2 * n * itemsize /
time, next to np.copyto of the same array, and the peak memory the
temporaries take. With tanh and exp in the chain the arithmetic itself is a
large share of the time on a CPU; the "% copy" column says how far each
variant is from the memory limit. A compiled static graph can fuse the
chain; an eager engine cannot know what comes next.

    from comparisons import fusion
    rows = fusion.run(n=1 << 22)

A static variant: `@SCENARIO.variant("staticgraph-numba", engine="staticgraph",
backend="numba", kind="static")` on a setup that builds the graph of the
chain on a placeholder, compiles it and returns `Prepared(step, values=...,
build_s=..., compile_s={phase: s}, ops_per_step=<kernels launched>)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import dyngraph as dg

from .framework import Plan, Prepared
from .harness.peers import jax_variant, torch_variant
from .scenarios import Column, Scenario


@dataclass(frozen=True)
class Size:
    n: int = 1 << 22
    samples: int = 20
    a: float = 0.7
    b: float = 0.1
    seed: int = 0


@dataclass
class Problem:
    size: Size
    dtype: np.dtype
    x: np.ndarray


def make_problem(size: Size, dtype: np.dtype) -> Problem:
    x = np.random.default_rng(size.seed).standard_normal(size.n).astype(dtype)
    return Problem(size, dtype, x)


def plan(size: Size) -> Plan:
    return Plan(warmup=2, samples=size.samples, inner=1, instrument_steps=2)


def annotate(rows: list[dict], problem: Problem) -> None:
    """Effective GB/s (x read once, out written once) and the share of copy speed."""
    moved = 2 * problem.x.nbytes
    copy = next((r for r in rows if r["kind"] == "baseline" and r.get("status") == "ok"), None)
    for r in rows:
        if r.get("status") != "ok":
            continue
        r["gbps"] = moved / r["step_s"] / 1e9
        if copy is not None:
            r["pct_of_copy"] = 100 * copy["step_s"] / r["step_s"]


SCENARIO = Scenario(
    name="fusion", title="Elementwise chain tanh(x*a+b)*sigmoid(x) - exp(-x*x)", order=4,
    full=Size(), quick=Size(n=1 << 18, samples=10), make_problem=make_problem, plan=plan,
    annotate=annotate,
    columns=[Column("gbps", "GB/s", "{:.2f}"), Column("pct_of_copy", "% copy", "{:.0f}%")],
    summary="Op by op, every op is a pass over memory and a temporary; a fused kernel "
            "makes one pass (np.copyto is that limit). tanh/exp arithmetic weighs too.")
run = SCENARIO.run


def _numpy_chain(x: np.ndarray, a: float, b: float) -> np.ndarray:
    """12 NumPy kernels, a temporary array each."""
    return np.tanh(x * a + b) * (1 / (1 + np.exp(-x))) - np.exp(-x * x)


@SCENARIO.variant("numpy", engine="numpy", kind="reference")
def numpy_variant(p: Problem) -> Prepared:
    out: list[np.ndarray] = []

    def step() -> None:
        out[:] = [_numpy_chain(p.x, p.size.a, p.size.b)]
    return Prepared(step, values=lambda: out[0], ops_per_step=12)


@SCENARIO.variant("numpy-out", engine="numpy", kind="eager",
                  note="same 12 kernels into two preallocated buffers (out=)")
def numpy_out_variant(p: Problem) -> Prepared:
    x, a, b = p.x, p.size.a, p.size.b
    out, tmp = np.empty_like(x), np.empty_like(x)

    def step() -> None:
        np.multiply(x, -1, out=tmp)
        np.exp(tmp, out=tmp)
        np.add(tmp, 1, out=tmp)
        np.divide(1, tmp, out=tmp)          # sigmoid(x)
        np.multiply(x, a, out=out)
        np.add(out, b, out=out)
        np.tanh(out, out=out)
        np.multiply(out, tmp, out=out)      # tanh(x*a+b) * sigmoid(x)
        np.multiply(x, x, out=tmp)
        np.negative(tmp, out=tmp)
        np.exp(tmp, out=tmp)
        np.subtract(out, tmp, out=out)
    return Prepared(step, values=lambda: out, ops_per_step=12)


@SCENARIO.variant("dyngraph", engine="dyngraph", kind="eager",
                  note="forward, grad tracking off (inputs do not require grad)")
def dyngraph_variant(p: Problem) -> Prepared:
    x, a, b = dg.from_numpy(p.x), p.size.a, p.size.b
    out: list[dg.Tensor] = []

    def step() -> None:
        out[:] = [dg.tanh(x * a + b) * dg.sigmoid(x) - dg.exp(-x * x)]
    return Prepared(step, values=lambda: out[0].numpy())


@SCENARIO.variant("np.copyto", engine="numpy", kind="baseline",
                  note="the memory-bandwidth limit: read n, write n")
def copy_variant(p: Problem) -> Prepared:
    out = np.empty_like(p.x)
    return Prepared(lambda: np.copyto(out, p.x), ops_per_step=1)


def _torch_setup(p: Problem, torch) -> Prepared:
    x, a, b = torch.from_numpy(p.x), p.size.a, p.size.b
    out: list = []

    def step() -> None:
        out[:] = [torch.tanh(x * a + b) * torch.sigmoid(x) - torch.exp(-x * x)]
    return Prepared(step, values=lambda: out[0].numpy())


def _jax_setup(p: Problem, jax) -> Prepared:
    jnp, a, b = jax.numpy, p.size.a, p.size.b
    chain = jax.jit(lambda x: jnp.tanh(x * a + b) * jax.nn.sigmoid(x) - jnp.exp(-x * x))
    x = jnp.asarray(p.x)
    out: list = []

    def step() -> None:
        out[:] = [chain(x).block_until_ready()]
    return Prepared(step, values=lambda: np.asarray(out[0]), compile_on_first_call=True)


SCENARIO.add(torch_variant("torch-eager", setup=_torch_setup))
SCENARIO.add(jax_variant("jax-jit", setup=_jax_setup, note="XLA fuses the chain"))


@SCENARIO.variant("staticgraph-numba", engine="staticgraph", backend="numba", kind="static",
                  note="one fused kernel; the returned array is recycled once dropped")
def numba_variant(p: Problem) -> Prepared:
    """The chain built once with staticgraph and compiled by backend="numba"."""
    import time

    import staticgraph as sg
    start = time.perf_counter()
    graph = sg.Graph("fusion")
    with graph.as_default():
        x = sg.placeholder((None,), p.dtype, name="x")
        y = sg.tanh(x * p.size.a + p.size.b) * sg.sigmoid(x) - sg.exp(-x * x)
    built = time.perf_counter()
    f = sg.function([x], y, backend="numba")
    compiled = time.perf_counter()
    out: list[np.ndarray] = [f(p.x)]  # kernels compile (or load from the cache) here
    first = time.perf_counter()

    def step() -> None:
        out.clear()  # drop the last result first: the backend then reuses its memory
        out.append(f(p.x))
    return Prepared(step, values=lambda: out[0], build_s=built - start,
                    compile_s={"passes + codegen": compiled - built,
                               "first call (kernel compile)": first - compiled},
                    ops_per_step=len(f.runner.kernels))


def _register_compiled() -> None:
    """dg.compile of the chain, and torch.compile beside it."""
    from .compiled_variants import fusion_variants
    for variant in fusion_variants():
        SCENARIO.add(variant)


_register_compiled()
