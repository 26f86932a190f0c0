"""Performance measurements of graphcompare (never part of the test run).

`python -m benchmarks [--quick] [--only NAME] [--out BENCHMARKS.md]` (what
`make bench` runs) writes BENCHMARKS.md. Every figure is a ratio to
baselines measured in the same run (hand-written NumPy; PyTorch eager and
JAX jit where installed, "not installed" otherwise), from interleaved runs.

Adding a bench is one module, `benchmarks/bench_<name>.py`, found by
`discover()`; if it cannot be imported (its engine is not written yet) the
report says so and the other benches run. For example::

    import numpy as np
    from benchmarks import Competitor, Section, RatioTarget, Workload, jax_competitor, register

    def _jax_chain(jax, x):
        jnp = jax.numpy
        f = jax.jit(lambda x: jnp.tanh(x * 0.5 + 0.1) * jax.nn.sigmoid(x) - jnp.exp(-x * x))
        xj = jnp.asarray(x)
        return lambda: f(xj).block_until_ready()

    @register("fused", "staticgraph: fused elementwise chain")
    def bench_fused(ctx):
        x = np.random.default_rng(0).standard_normal(1000 if ctx.tiny else 10_000_000)
        out = np.empty_like(x)
        wl = Workload("chain, float64", [
            Competitor("numpy", "NumPy", lambda: lambda: np.tanh(x * 0.5 + 0.1) * ...),
            Competitor("copy", "np.copyto (bandwidth)", lambda: lambda: np.copyto(out, x)),
            Competitor("numba", "staticgraph numba", lambda: build_fused_step(x)),
            jax_competitor(lambda jax: _jax_chain(jax, x)),
        ], unit="ms", baselines=("numpy", "copy", "jax"),
           targets=[RatioTarget("numba", "jax", 1.0)])
        return [Section("Fused elementwise chain", [ctx.measure(wl)])]

The timing (`Workload`, `measure`), the peers, the machine line and the
thread pinning are `comparisons.harness`, which `python -m comparisons`
uses too. A competitor's `make` builds its step (the setup column times the build
and the first call, i.e. compilation) and returns a zero-argument callable
doing one unit of work; peers built with `torch_competitor`/`jax_competitor`
read "not installed" when absent. `tutorial_steps` has the tutorial step for
NumPy, PyTorch, JAX and the BLAS floor, ready to sit beside a new engine.
Keep `ctx.tiny` sizes small: tests/test_benchmarks_smoke.py runs them.
"""

from comparisons.harness.peers import (
    NOT_INSTALLED,
    jax_competitor,
    load_jax,
    load_torch,
    torch_competitor,
)
from comparisons.harness.workload import (
    BLAS_SETTLE_S,
    FULL,
    QUICK,
    TINY,
    Competitor,
    Measurement,
    RatioTarget,
    Settings,
    Workload,
    WorkloadResult,
    measure,
)

from .registry import BENCHES, BenchContext, discover, register
from .report import Section

__all__ = [
    "BENCHES", "BLAS_SETTLE_S", "FULL", "NOT_INSTALLED", "QUICK", "TINY", "BenchContext",
    "Competitor", "Measurement", "Section", "Settings", "RatioTarget", "Workload", "WorkloadResult",
    "discover", "jax_competitor", "load_jax", "load_torch", "measure", "register",
    "torch_competitor",
]
