"""fused elementwise kernels of the staticgraph numba backend.

`tanh(x*a+b)*sigmoid(x) - exp(-x*x)` on 10M elements (float32 and float64),
written once with staticgraph and compiled to one fused, vectorised,
parallel kernel, against JAX `jit` (XLA fuses it too), NumPy (12 passes over
memory) and a plain copy; then the bandwidth-bound `x*a+b` against the copy
(the memory limit: read n, write n). The fused function returns a new array
per call, like NumPy and JAX; the backend recycles it when the caller has
dropped the previous one, so no page is faulted in per call.
"""

from __future__ import annotations

import numpy as np

import staticgraph as sg
from comparisons.harness.peers import jax_competitor
from comparisons.harness.workload import Competitor, RatioTarget, Step, Workload, WorkloadResult

from .registry import BenchContext, register
from .report import Section

A, B = 0.5, 0.1
N = 10_000_000
CHAIN_TARGET = 1.0  # fused numba <= 1.0x JAX jit
BANDWIDTH_TARGET = 1 / 0.8  # x*a+b reaches >= 80% of a copy's bandwidth


def chain_function(dtype, expression: str) -> sg.Function:
    """`expression` ("chain" or "axpb") of a 1-d placeholder, backend numba."""
    graph = sg.Graph(expression)
    with graph.as_default():
        x = sg.placeholder((None,), dtype, name="x")
        if expression == "chain":
            y = sg.tanh(x * A + B) * sg.sigmoid(x) - sg.exp(-x * x)
        else:
            y = x * A + B
        return sg.function([x], y, backend="numba")


def numba_step(x: np.ndarray, expression: str) -> Step:
    f = chain_function(x.dtype, expression)
    return lambda: f(x)


def numpy_step(x: np.ndarray, expression: str) -> Step:
    if expression == "chain":
        return lambda: np.tanh(x * A + B) * (1 / (1 + np.exp(-x))) - np.exp(-x * x)
    return lambda: x * A + B


def jax_step(jax, x: np.ndarray, expression: str) -> Step:
    jnp = jax.numpy
    if expression == "chain":
        f = jax.jit(lambda v: jnp.tanh(v * A + B) * jax.nn.sigmoid(v) - jnp.exp(-v * v))
    else:
        f = jax.jit(lambda v: v * A + B)
    xj = jnp.asarray(x)
    return lambda: f(xj).block_until_ready()


def copy_step(x: np.ndarray) -> Step:
    out = np.empty_like(x)
    return lambda: np.copyto(out, x)


def workload(n: int, dtype, expression: str) -> Workload:
    x = np.random.default_rng(0).standard_normal(n).astype(dtype)
    comps = [
        Competitor("numba", "staticgraph numba (fused)", lambda: numba_step(x, expression)),
        jax_competitor(lambda jax: jax_step(jax, x, expression)),
        Competitor("numpy", "NumPy", lambda: numpy_step(x, expression)),
        Competitor("copy", "np.copyto (memory bandwidth)", lambda: copy_step(x)),
    ]
    if expression == "chain":
        targets = [RatioTarget("numba", "jax", CHAIN_TARGET)]
        name = f"tanh(x*a+b)*sigmoid(x) - exp(-x*x), {np.dtype(dtype).name}"
    else:
        targets = [RatioTarget("numba", "copy", BANDWIDTH_TARGET)]
        name = f"x*a+b, {np.dtype(dtype).name}"
    return Workload(name, comps, unit="ms", per_label="call",
                    baselines=("jax", "numpy", "copy"), targets=targets)


def bandwidth_notes(results: list[WorkloadResult], n: int) -> list[str]:
    """Effective GB/s (x read once, the result written once) per competitor."""
    notes = []
    for res in results:
        itemsize = 4 if "float32" in res.workload.name else 8
        cells = []
        for key, m in res.measurements.items():
            if m.ok:
                cells.append(f"{res.label(key)} {2 * n * itemsize / m.median / 1e9:.1f} GB/s")
        notes.append(f"{res.workload.name}: " + ", ".join(cells))
    return notes


INTRO = f"""\
Elementwise chains on {N // 1_000_000}M elements, one call each. The staticgraph function
is built once (`sg.function([x], y, backend="numba")`): the passes fuse the chain into one
kernel whose exp/tanh/sigmoid are branch-free vectorisable polynomials (docs/compiler.md),
run on all cores (`prange`) above 2**17 elements. Targets: the fused chain <= 1.0x
JAX jit; `x*a+b` >= 80% of the copy's bandwidth, i.e. <= {BANDWIDTH_TARGET:.2f}x its time."""


@register("static_fused", "staticgraph numba: fused elementwise chains")
def bench_static_fused(ctx: BenchContext) -> list[Section]:
    n = 1000 if ctx.tiny else N
    results = [ctx.measure(workload(n, dtype, expression))
               for expression in ("chain", "axpb") for dtype in (np.float32, np.float64)]
    return [Section("Fused elementwise chains, backend numba", results, intro=INTRO,
                    notes=bandwidth_notes(results, n))]
