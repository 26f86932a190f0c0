"""One big njit function per graph, or small cached kernels orchestrated by Python?

Measured on the tutorial two-layer net step (N=64, D_in=1000, H=100, D_out=10,
float64, SGD): compile time (fresh processes) and step time of
- `njit step`: the whole step hand-written as one njit function, matmuls as
  `np.dot(a, b, out)` (BLAS through SciPy's cython_blas);
- `orchestrated`: Python calling `np.matmul(..., out=)` and four fused
  kernels from `compile_group` (relu; loss + its gradient; relu mask; SGD
  update, one kernel for both weights since sizes do not key kernels), through
  the checking wrapper or straight to a variant with prepared views;
- baselines: NumPy as written in the tutorial, the five matmuls alone (BLAS
  floor), JAX `jit` when installed.
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

import numpy as np
from numba import njit

from comparisons.harness.interleave import interleaved, medians
from staticgraph.compiler.compile import compile_group
from staticgraph.compiler.group import GroupBuilder

from .tutorial_steps import jax_step as _jax_step
from .tutorial_steps import numpy_step as _numpy_step

ROOT = Path(__file__).resolve().parents[1]

N, D_IN, H, D_OUT, LR = 64, 1000, 100, 10, 1e-6


def data(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((N, D_IN)), "y": rng.standard_normal((N, D_OUT)),
            "w1": rng.standard_normal((D_IN, H)), "w2": rng.standard_normal((H, D_OUT))}


def buffers() -> dict[str, np.ndarray]:
    return {"h": np.empty((N, H)), "hr": np.empty((N, H)), "yp": np.empty((N, D_OUT)),
            "gyp": np.empty((N, D_OUT)), "gw2": np.empty((H, D_OUT)), "gh": np.empty((N, H)),
            "gw1": np.empty((D_IN, H)), "loss": np.empty(())}


def step_py(x, y, w1, w2, lr, h, hr, yp, gyp, gw2, gh, gw1):
    """The whole training step; compiled by `njit` in `make_njit_step`."""
    np.dot(x, w1, h)
    n, m = h.shape
    for i in range(n):
        for j in range(m):
            hr[i, j] = h[i, j] if h[i, j] > 0.0 else 0.0
    np.dot(hr, w2, yp)
    loss = 0.0
    for i in range(yp.shape[0]):
        for j in range(yp.shape[1]):
            d = yp[i, j] - y[i, j]
            loss += d * d
            gyp[i, j] = 2.0 * d
    np.dot(hr.T, gyp, gw2)
    np.dot(gyp, w2.T, gh)
    for i in range(n):
        for j in range(m):
            if h[i, j] <= 0.0:
                gh[i, j] = 0.0
    np.dot(x.T, gh, gw1)
    for i in range(w1.shape[0]):
        for j in range(w1.shape[1]):
            w1[i, j] -= lr * gw1[i, j]
    for i in range(w2.shape[0]):
        for j in range(w2.shape[1]):
            w2[i, j] -= lr * gw2[i, j]
    return loss


def make_njit_step(cache: bool = False):
    return njit(error_model="numpy", cache=cache)(step_py)


def two_dots_py(x, w1, w2, h, out):
    np.dot(x, w1, h)
    np.dot(h, w2, out)


def five_dots_py(x, w1, w2, h, yp, gw2, gh, gw1):
    """The BLAS floor through SciPy's BLAS (np.dot inside njit)."""
    np.dot(x, w1, h)
    np.dot(h, w2, yp)
    np.dot(h.T, yp, gw2)
    np.dot(yp, w2.T, gh)
    np.dot(x.T, gh, gw1)


def tutorial_kernels() -> dict:
    """The four fused kernels of the orchestrated step."""
    f64 = np.float64
    b = GroupBuilder("relu")
    b_h = b.input(2, f64)
    relu = compile_group(b.build(outputs=[b.op("relu", b_h)]))
    b = GroupBuilder("loss")
    yp, y = b.input(2, f64), b.input(2, f64)
    d = b.op("sub", yp, y)
    loss = compile_group(b.build(outputs=[b.op("mul", d, 2.0)],
                                 reduce=("sum", b.op("mul", d, d), (0, 1), False)))
    b = GroupBuilder("relu_mask")
    h, g = b.input(2, f64), b.input(2, f64)
    mask = compile_group(b.build(outputs=[b.op("where", b.op("greater", h, 0.0), g, 0.0)]))
    b = GroupBuilder("sgd")
    w, g, lr = b.input(2, f64), b.input(2, f64), b.scalar(float)
    sgd = compile_group(b.build(outputs=[b.op("sub", w, b.op("mul", g, lr))]))
    return {"relu": relu, "loss": loss, "mask": mask, "sgd": sgd}


def orchestrated_step(d: dict, k: dict, direct: bool):
    """Python + np.matmul(out=) + fused kernels, all buffers planned once."""
    x, y, w1, w2 = d["x"], d["y"], d["w1"].copy(), d["w2"].copy()
    b = buffers()
    h, hr, yp, gyp, gw2, gh, gw1, loss = (b[n] for n in
                                          ("h", "hr", "yp", "gyp", "gw2", "gh", "gw1", "loss"))
    if not direct:
        def step() -> float:
            np.matmul(x, w1, out=h)
            k["relu"](h, out=(hr,))
            np.matmul(hr, w2, out=yp)
            k["loss"](yp, y, out=(gyp, loss))
            np.matmul(hr.T, gyp, out=gw2)
            np.matmul(gyp, w2.T, out=gh)
            k["mask"](h, gh, out=(gh,))
            np.matmul(x.T, gh, out=gw1)
            k["sgd"](w1, gw1, LR, out=(w1,))
            k["sgd"](w2, gw2, LR, out=(w2,))
            return float(loss)
        return step
    flat = lambda a: a.reshape(-1)  # noqa: E731
    fh, fhr, fyp, fy, fgyp, fgh = map(flat, (h, hr, yp, y, gyp, gh))
    fw1, fgw1, fw2, fgw2, floss = map(flat, (w1, gw1, w2, gw2, loss))
    relu, lossk, mask, sgd = (k[n].fns["flat"] for n in ("relu", "loss", "mask", "sgd"))

    def step_direct() -> float:
        np.matmul(x, w1, out=h)
        relu(fh.size, fh, fhr)
        np.matmul(hr, w2, out=yp)
        lossk(fyp.size, fyp, fy, fgyp, floss)
        np.matmul(hr.T, gyp, out=gw2)
        np.matmul(gyp, w2.T, out=gh)
        mask(fh.size, fh, fgh, fgh)
        np.matmul(x.T, gh, out=gw1)
        sgd(fw1.size, fw1, fgw1, LR, fw1)
        sgd(fw2.size, fw2, fgw2, LR, fw2)
        return float(floss[0])
    return step_direct


def numpy_step(d: dict):
    """The hand-written NumPy step (benchmarks.tutorial_steps), at this file's LR."""
    return _numpy_step(d, LR)


def blas_floor(d: dict):
    x, w1, w2 = d["x"], d["w1"], d["w2"]
    b = buffers()

    def step() -> None:
        np.matmul(x, w1, out=b["h"])
        np.matmul(b["h"], w2, out=b["yp"])
        np.matmul(b["h"].T, b["yp"], out=b["gw2"])
        np.matmul(b["yp"], w2.T, out=b["gh"])
        np.matmul(x.T, b["gh"], out=b["gw1"])
    return step


def jax_step(d: dict):
    """`tutorial_steps.jax_step` (the benchmarks' JAX step), or None without JAX."""
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return _jax_step(jax, d, LR)


COMPILE_SCRIPT = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    from numba import njit
    njit(lambda v: v + 1)(1.0)  # Numba's own start-up is not what we measure
    from benchmarks import compiler_design_tutorial as bt
    d, b = bt.data(), bt.buffers()
    start = time.perf_counter()
    if sys.argv[1].startswith("njit step"):
        step = bt.make_njit_step(cache=sys.argv[1].endswith("cached"))
        step(d["x"], d["y"], d["w1"], d["w2"], bt.LR,
             *[b[k] for k in ("h", "hr", "yp", "gyp", "gw2", "gh", "gw1")])
    elif sys.argv[1] == "njit two dots":
        njit(bt.two_dots_py)(d["x"], d["w1"], d["w2"], b["h"], b["yp"])
    else:
        bt.orchestrated_step(d, bt.tutorial_kernels(), direct=False)()
    print(json.dumps({"seconds": time.perf_counter() - start}))
""")


def compile_seconds(mode: str, cache_dir: str) -> float:
    env = dict(os.environ, GRAPHCOMPARE_CACHE_DIR=cache_dir, NUMBA_CACHE_DIR=cache_dir)
    proc = subprocess.run([sys.executable, "-c", COMPILE_SCRIPT, mode], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]


def run_tutorial(quick: bool = False) -> None:
    repeats = 1 if quick else 3
    print("\ntutorial step: compile (fresh processes, medians)")
    for mode in ("njit two dots", "njit step", "njit step cached", "orchestrated kernels"):
        cold, warm = [], []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as cache_dir:
                cold.append(compile_seconds(mode, cache_dir))
                warm.append(compile_seconds(mode, cache_dir))
        print(f"  {mode:22s} cold {statistics.median(cold):.3f} s, "
              f"second process {statistics.median(warm):.3f} s")
    d = data()
    b = buffers()
    njit_step, two_dots = make_njit_step(), njit(error_model="numpy")(two_dots_py)
    w1, w2 = d["w1"].copy(), d["w2"].copy()
    args = [b[k] for k in ("h", "hr", "yp", "gyp", "gw2", "gh", "gw1")]
    kernels = tutorial_kernels()
    floor = blas_floor(d)
    run_njit = lambda: njit_step(d["x"], d["y"], w1, w2, LR, *args)  # noqa: E731
    five_dots = njit(five_dots_py)
    njit_floor = lambda: five_dots(d["x"], d["w1"], d["w2"], *[b[k] for k in (  # noqa: E731
        "h", "yp", "gw2", "gh", "gw1")])
    blocks = {
        "NumPy's BLAS": {
            "BLAS floor (5 matmuls)": floor, "numpy step": numpy_step(d),
            "orchestrated": orchestrated_step(d, kernels, direct=False),
            "orchestrated direct": orchestrated_step(d, kernels, direct=True),
            "x@w1 np.matmul(out=)": lambda: np.matmul(d["x"], d["w1"], out=b["h"]),
            "2 matmuls Python": lambda: (np.matmul(d["x"], d["w1"], out=b["h"]),
                                         np.matmul(b["h"], d["w2"], out=b["yp"]))},
        "SciPy's BLAS (np.dot in njit)": {
            "BLAS floor (5 matmuls)": njit_floor, "njit step": run_njit,
            "2 dots njit np.dot": lambda: two_dots(d["x"], d["w1"], d["w2"], b["h"], b["yp"])},
        "both BLAS alternating": {"BLAS floor (5 matmuls)": floor, "njit step": run_njit},
    }
    jstep = jax_step(d)
    if jstep is not None:
        blocks["JAX"] = {"BLAS floor (5 matmuls)": floor, "jax jit step": jstep}
    for block, fns in blocks.items():
        alternate = block.startswith("both")
        samples = interleaved(fns, rounds=5 if quick else 31, warmup=3,
                              inner=1 if (quick or alternate) else 20)
        times = medians(samples)
        base = times["BLAS floor (5 matmuls)"]
        print(f"tutorial step, {block}: median us per call (min) (ratio to the floor)")
        for name, t in times.items():
            print(f"  {name:24s} {t * 1e6:9.1f} us ({min(samples[name]) * 1e6:7.1f}) "
                  f"{t / base:6.2f}")
    for name, fn in (("njit step", njit_step), ("two dots", two_dots)):
        sig = fn.signatures[0]
        timers = fn.overloads[sig].metadata.get("timers", {})
        print(f"  {name} in-process compile timers: {timers}")
