"""RNN time vs sequence length: what unrolling costs that scan does not.

For each length (in increasing order, each new to every engine) it times the
first call (for the unrolled graph: build + compile of a new tower) and the
steady-state loss + gradients, for dyngraph (a Python loop; a new tape every
call), staticgraph scan (one graph for every length) and staticgraph unrolled
(a graph per length). `plot_sweep` draws both; the rnn scenarios' `extra_plots`
hook draws the same two panels from the run's own rows (`from_rows`: each
step's length and time, nothing run again), so `run rnn --out DIR` writes
`rnn-sweep.png`.

    from comparisons.rnn import sweep as rnn_sweep
    result = rnn_sweep.sweep(lengths=(5, 10, 20, 40), backend="numba")
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from . import models as rm
from . import numpy_steps as rn


def _timed(run, xs: np.ndarray, ys: np.ndarray) -> float:
    start = time.perf_counter()
    run(xs, ys)
    return time.perf_counter() - start


def _engines(cell: str, params: dict, batch: int, hidden: int, backend: str, dtype) -> dict:
    """name -> callable(xs, ys) computing loss and gradients."""
    w = rm.dyngraph_params(params)
    state0 = rm.dyngraph_state(rn.zero_state(cell, batch, hidden, dtype))

    def dyngraph(xs, ys):
        rm.dyngraph_loss(cell, w, xs, ys, state0).backward()
    scan = rm.StaticRNN(cell, params, batch, "scan", backend)
    unrolled = rm.StaticRNN(cell, params, batch, "unrolled", backend)
    return {"dyngraph": dyngraph, f"staticgraph-scan-{backend}": scan.loss_and_grads,
            f"staticgraph-unrolled-{backend}": unrolled.loss_and_grads}


def sweep(cell: str = "tanh", lengths=(5, 10, 20, 40), batch: int = 8, d_in: int = 4,
          hidden: int = 16, backend: str = "numba", repeats: int = 3, seed: int = 0,
          dtype=np.float64) -> dict:
    """{"lengths": [...], "series": {engine: {"first_s": [...], "step_s": [...]}}}."""
    rng = np.random.default_rng(seed)
    params = rn.init_params(cell, d_in, hidden, rng, np.dtype(dtype))
    engines = _engines(cell, params, batch, hidden, backend, np.dtype(dtype))
    series = {name: {"first_s": [], "step_s": []} for name in engines}
    for length in lengths:
        xs = rng.standard_normal((length, batch, d_in)).astype(dtype)
        ys = np.cumsum(xs.sum(axis=2, keepdims=True), axis=0).astype(dtype)
        for name, run in engines.items():
            series[name]["first_s"].append(_timed(run, xs, ys))
            steady = [_timed(run, xs, ys) for _ in range(repeats)]
            series[name]["step_s"].append(statistics.median(steady))
    return {"lengths": list(lengths), "series": series, "backend": backend, "cell": cell}


def plot_sweep(result: dict, path: Path) -> Path:
    """Two panels: first call (build/compile included) and steady step vs length."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, title in ((axes[0], "first_s", "first call at a new length"),
                           (axes[1], "step_s", "steady state (median)")):
        for name, data in result["series"].items():
            ax.plot(result["lengths"], [1e3 * t for t in data[key]], marker="o", label=name,
                    linestyle="-")
        ax.set_xlabel("sequence length")
        ax.set_ylabel("ms (log scale)")
        ax.set_yscale("log")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{result['cell']} RNN, loss + gradients vs sequence length")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def from_rows(rows: list[dict]) -> dict:
    """The sweep's data from a scenario run's own rows (their `by_unit` figures:
    the first step at each new length, and the steady steps at it)."""
    measured = [r for r in rows if r.get("status") == "ok" and r.get("by_unit")]
    lengths = sorted({int(k) for r in measured for k in r["by_unit"]})
    nan = float("nan")
    series = {}
    for r in measured:
        at = {int(k): v for k, v in r["by_unit"].items()}
        series[r["variant"]] = {
            "first_s": [at[n]["first_s"] if n in at else nan for n in lengths],
            "step_s": [at[n]["step_s"] if n in at and at[n]["step_s"] else nan
                       for n in lengths]}
    size = next((r.get("size") for r in rows if r.get("size")), {}) or {}
    return {"lengths": lengths, "series": series, "cell": size.get("cell", "tanh")}


def extra_plots(rows: list[dict], out: Path) -> list[Path]:
    """The rnn scenarios' hook: the run's own per-length times, plotted into `out`
    (nothing is run again)."""
    result = from_rows(rows)
    if not result["lengths"]:
        return []
    name = "rnn" if result["cell"] == "tanh" else result["cell"]
    return [plot_sweep(result, Path(out) / f"{name}-sweep.png")]
