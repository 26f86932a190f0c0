"""Compile cost against graph size: a chain of N elementwise ops and its gradient.

`y = tanh(y) + 0.5` and `y * 1.0001` alternating N times on a float64 vector
of 1000 elements, loss = sum(y), the gradient w.r.t. the input. Each figure
is one new process with empty cache dirs, from building the graph to the
first result (imports excluded, the numba backend's too): staticgraph
`Session(backend="numba", tiered=False)` (the compile itself, not the tiered
first run), and JAX's first call of `jit(value_and_grad)`.

`python -m benchmarks.bench_compile_scaling MODE N` prints one JSON line
`{"seconds": ...}` (MODE: static or jax).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from comparisons.harness.workload import (
    Competitor,
    Measurement,
    RatioTarget,
    Workload,
    WorkloadResult,
)

from .registry import BenchContext, register
from .report import Section

ROOT = Path(__file__).resolve().parents[1]
SIZES, TINY_SIZES = (100, 1000), (4, 8)
SECONDS_TARGET, JAX_RATIO_TARGET, GROWTH_TARGET = 5.0, 3.0, 15.0  # at N=1000


def _static(n: int) -> float:
    import numpy as np

    import staticgraph as sg
    start = time.perf_counter()
    g = sg.Graph("chain")
    with g.as_default():
        x = sg.placeholder((None,), np.float64, name="x")
        y = x
        for i in range(n):
            y = sg.tanh(y) + 0.5 if i % 2 == 0 else y * 1.0001
        loss = sg.sum(y)
        (gx,) = sg.gradients(loss, [x])
    sess = sg.Session(g, backend="numba", tiered=False)
    sess.run([loss, gx], {x: np.linspace(-1.0, 1.0, 1000)})
    return time.perf_counter() - start


def _jax(n: int) -> float:
    import numpy as np

    from comparisons.harness.peers import load_jax
    jax = load_jax()
    jnp = jax.numpy
    start = time.perf_counter()

    def loss(x):
        y = x
        for i in range(n):
            y = jnp.tanh(y) + 0.5 if i % 2 == 0 else y * 1.0001
        return jnp.sum(y)

    jax.block_until_ready(jax.jit(jax.value_and_grad(loss))(np.linspace(-1.0, 1.0, 1000)))
    return time.perf_counter() - start


def run(mode: str, n: int, timeout: float = 600) -> float:
    """Seconds measured by a new process with fresh cache dirs."""
    with tempfile.TemporaryDirectory(prefix="graphcompare-bench-") as tmp:
        env = dict(os.environ, GRAPHCOMPARE_CACHE_DIR=tmp,
                   NUMBA_CACHE_DIR=os.path.join(tmp, "numba"))
        out = subprocess.run([sys.executable, "-m", "benchmarks.bench_compile_scaling", mode,
                              str(n)], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=timeout, check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])


def _fixed(key: str, label: str, seconds: float | None) -> Measurement:
    """A figure measured in another process, as a harness measurement."""
    comp = Competitor(key, label, (lambda: None) if seconds is not None else None,
                      missing="not installed" if seconds is None else "")
    m = Measurement(comp, times=[] if seconds is None else [seconds])
    m.faults = [0.0] * len(m.times)
    return m


@register("compile_scaling", "staticgraph numba: compile cost against graph size")
def bench_compile_scaling(ctx: BenchContext) -> list[Section]:
    from comparisons.harness.peers import load_jax
    small, big = TINY_SIZES if ctx.tiny else SIZES
    has_jax = load_jax() is not None
    ms = [_fixed("small", f"staticgraph numba, N={small}", run("static", small)),
          _fixed("big", f"staticgraph numba, N={big}", run("static", big)),
          _fixed("jax_small", f"JAX jit first call, N={small}",
                 run("jax", small) if has_jax else None),
          _fixed("jax_big", f"JAX jit first call, N={big}", run("jax", big) if has_jax else None),
          _fixed("budget", f"budget at N={big} ({SECONDS_TARGET:g} s)", SECONDS_TARGET)]
    wl = Workload(f"compile chain of N ops + gradient, N={small} and N={big}",
                  [m.competitor for m in ms], unit="s", per_label="compile",
                  baselines=("small", "jax_big", "budget"),
                  targets=[RatioTarget("big", "small", GROWTH_TARGET),
                           RatioTarget("big", "jax_big", JAX_RATIO_TARGET),
                           RatioTarget("big", "budget", 1.0)])
    result = WorkloadResult(wl, {m.competitor.key: m for m in ms})
    intro = __doc__.split("\n\n")[1].replace("\n", " ") + (
        f" Targets: N={big} within {GROWTH_TARGET:g}x N={small} (linear growth), "
        f"within {JAX_RATIO_TARGET:g}x JAX's first call and within {SECONDS_TARGET:g} s.")
    return [Section("Compile cost of an N-op chain and its gradient", [result], intro=intro)]


def main(argv: list[str]) -> None:
    mode, n = argv[0], int(argv[1])
    import staticgraph.numba_backend  # noqa: F401  (imports are not part of the compile)
    seconds = _static(n) if mode == "static" else _jax(n)
    print(json.dumps({"seconds": seconds}))


if __name__ == "__main__":
    main(sys.argv[1:])
