"""Compile cost of the RNN forward+gradient, each measured in a new process.

`python -m benchmarks.bench_rnn_compile MODE` prints one JSON line:
`{"seconds": ..., "numba_init": ...}` where `seconds` is the time from
building the graph to the first result (imports excluded), for MODE

- `static`: `sg.Session(backend="numba")` on the RNN of `bench_rnn_steps`;
- `jax`: `jax.jit(jax.grad(loss))` traced, compiled and run once;
- `numba-init`: Numba's one-time start-up in a process (its first call of an
  already cached function), which any Numba user pays once.

A cold run gets empty `GRAPHCOMPARE_CACHE_DIR` / `NUMBA_CACHE_DIR`; a warm
run reuses the directories a cold run filled.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _static(size) -> float:
    import numpy as np  # noqa: F401

    from .bench_rnn_steps import make_data, static_step
    data = make_data(size)
    start = time.perf_counter()
    static_step(data)()
    return time.perf_counter() - start


def _jax(size) -> float:
    from comparisons.harness.peers import load_jax

    from .bench_rnn_steps import jax_step, make_data
    jax = load_jax()
    data = make_data(size)
    start = time.perf_counter()
    jax_step(jax, data)()
    return time.perf_counter() - start


def _numba_init() -> float:
    import numpy as np

    from staticgraph.scan.loop.runtime import fill_zero
    start = time.perf_counter()
    fill_zero(np.empty(3))
    return time.perf_counter() - start


def main(argv: list[str]) -> None:
    from .bench_rnn_steps import BIG, SMOKE
    mode, size = argv[0], SMOKE if "--tiny" in argv else BIG
    if mode == "numba-init":
        seconds = _numba_init()
    else:
        import staticgraph  # noqa: F401  (imports are not part of the compile)
        seconds = _static(size) if mode == "static" else _jax(size)
    print(json.dumps({"seconds": seconds}))


def run(mode: str, cache_dir: str | None, tiny: bool = False, timeout: float = 300) -> float:
    """Seconds measured by a new process in `mode`, with `cache_dir` as its caches."""
    env = dict(os.environ)
    if cache_dir is not None:
        env["GRAPHCOMPARE_CACHE_DIR"] = cache_dir
        env["NUMBA_CACHE_DIR"] = os.path.join(cache_dir, "numba")
    cmd = [sys.executable, "-m", "benchmarks.bench_rnn_compile", mode]
    cmd += ["--tiny"] if tiny else []
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=timeout, check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])


def cold_and_warm(runs: int, tiny: bool = False) -> tuple[list[float], list[float]]:
    """`runs` cold compiles (each in fresh caches) and the warm one after each."""
    cold, warm = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="graphcompare-bench-") as tmp:
            cold.append(run("static", tmp, tiny))
            warm.append(run("static", tmp, tiny))
    return cold, warm


if __name__ == "__main__":
    main(sys.argv[1:])
