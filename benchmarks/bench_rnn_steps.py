"""The RNN BPTT step of `bench_rnn`, written for every competitor.

One step: the tanh RNN `h_t = tanh(x_t Wx + h_{t-1} Wh + b)` over T steps
from h_0 = 0, loss = sum(h_T ** 2), and the gradients of the loss w.r.t.
Wx, Wh and b (float64). Every builder takes the same seeded data and returns
a zero-argument step computing the three gradients (read back as arrays).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np

import dyngraph as dg
import staticgraph as sg
from comparisons.harness.workload import Step


@dataclass(frozen=True)
class RnnSize:
    batch: int = 32
    d_in: int = 64
    hidden: int = 128
    steps: int = 100


BIG = RnnSize()
TINY = RnnSize(batch=1, d_in=8, hidden=16, steps=1000)
SMOKE = RnnSize(batch=2, d_in=3, hidden=4, steps=5)


def make_data(size: RnnSize, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    bound = 1 / np.sqrt(size.hidden)
    return {"xs": rng.standard_normal((size.steps, size.batch, size.d_in)),
            "Wx": rng.uniform(-bound, bound, (size.d_in, size.hidden)),
            "Wh": rng.uniform(-bound, bound, (size.hidden, size.hidden)),
            "b": rng.uniform(-bound, bound, (size.hidden,))}


# ---- NumPy: hand-written BPTT, input projection hoisted ------------------------------
def numpy_grads(d: dict) -> tuple:
    """Forward with `xs @ Wx + b` for all steps at once, BPTT, dWx and db hoisted."""
    xs, wx, wh = d["xs"], d["Wx"], d["Wh"]
    proj = xs @ wx + d["b"]
    hs = np.empty(proj.shape)
    h = np.zeros(proj.shape[1:])
    for t in range(len(xs)):
        h = np.tanh(proj[t] + h @ wh)
        hs[t] = h
    gh = 2 * hs[-1]
    dz = np.empty_like(hs)
    g_wh = np.zeros_like(wh)
    wh_t = wh.T
    for t in range(len(xs) - 1, -1, -1):
        dz[t] = g = gh * (1 - hs[t] * hs[t])
        if t:
            g_wh += hs[t - 1].T @ g
        gh = g @ wh_t
    width = wx.shape[1]
    flat = dz.reshape(-1, width)
    return xs.reshape(-1, xs.shape[-1]).T @ flat, g_wh, flat.sum(0)


def numpy_step(d: dict) -> Step:
    return lambda: numpy_grads(d)


# ---- staticgraph: sg.scan, one graph for every length -------------------------------
def _static_graph(d: dict) -> tuple:
    g = sg.Graph("bench-rnn")
    with g.as_default():
        w = {k: sg.Variable(d[k], name=k) for k in ("Wx", "Wh", "b")}
        batch, d_in = d["xs"].shape[1:]
        xs = sg.placeholder((None, batch, d_in), np.float64, name="xs")
        h0 = sg.constant(np.zeros((batch, d["Wh"].shape[0])))
        hs = sg.scan(lambda h, x: sg.tanh(x @ w["Wx"] + h @ w["Wh"] + w["b"]), xs,
                     initializer=h0)
        last = hs[-1]
        grads = sg.gradients((last * last).sum(), [w["Wx"], w["Wh"], w["b"]])
    return g, xs, grads


def static_step(d: dict, backend: str = "numba") -> Step:
    """`sg.Session(backend=...)`: the backend's own pipeline (the numba backend
    runs the scan passes on the whole program, then lowers each scan to a loop)."""
    g, xs, grads = _static_graph(d)
    session = sg.Session(g, backend=backend, tiered=False)
    feed = {xs: d["xs"]}
    return lambda: session.run(grads, feed)


# ---- dyngraph and PyTorch eager: a Python loop over time --------------------------------
def _loop_step(lib: ModuleType, grad, d: dict) -> Step:
    """The same eager loop for dyngraph and PyTorch (one API): forward over time,
    then the gradients of sum(h_T**2) w.r.t. Wx, Wh, b."""
    w = [lib.tensor(d[k], requires_grad=True) for k in ("Wx", "Wh", "b")]
    xs = lib.from_numpy(d["xs"])
    h0 = lib.from_numpy(np.zeros((d["xs"].shape[1], d["Wh"].shape[0]), d["xs"].dtype))

    def step():
        h = h0
        for t in range(len(xs)):
            h = lib.tanh(xs[t] @ w[0] + h @ w[1] + w[2])
        return grad((h * h).sum(), w)
    return step


def dyngraph_step(d: dict) -> Step:
    return _loop_step(dg, dg.grad, d)


def torch_step(torch: ModuleType, d: dict) -> Step:
    return _loop_step(torch, torch.autograd.grad, d)


# ---- JAX: jit + lax.scan ------------------------------------------------------------------
def jax_step(jax: ModuleType, d: dict) -> Step:
    jnp = jax.numpy

    def loss(w, xs):
        h0 = jnp.zeros((xs.shape[1], w[1].shape[0]), xs.dtype)
        cell = lambda h, x: (jnp.tanh(x @ w[0] + h @ w[1] + w[2]),) * 2  # noqa: E731
        h, _ = jax.lax.scan(cell, h0, xs)
        return jnp.sum(h * h)

    grad = jax.jit(jax.grad(loss))
    w = tuple(jnp.asarray(d[k]) for k in ("Wx", "Wh", "b"))
    xs = jnp.asarray(d["xs"])
    return lambda: jax.block_until_ready(grad(w, xs))


# ---- a hand-written Numba loop (the tiny, overhead-bound RNN) ----------------------------
def _numba_bptt():
    """Forward and BPTT as plain loops (j innermost: contiguous, vectorised), the
    input projection folded into the step, dWx/dWh/db accumulated per step."""
    from numba import njit

    @njit(cache=True, fastmath=True)
    def bptt(xs, wx, wh, b):
        steps, batch, d_in = xs.shape
        hidden = wh.shape[0]
        hs = np.zeros((steps + 1, batch, hidden))
        for t in range(steps):
            for i in range(batch):
                row = hs[t + 1, i]
                for j in range(hidden):
                    row[j] = b[j]
                for p in range(d_in):
                    xp = xs[t, i, p]
                    for j in range(hidden):
                        row[j] += xp * wx[p, j]
                for p in range(hidden):
                    hp = hs[t, i, p]
                    for j in range(hidden):
                        row[j] += hp * wh[p, j]
                for j in range(hidden):
                    row[j] = np.tanh(row[j])
        gwx, gwh, gb = np.zeros_like(wx), np.zeros_like(wh), np.zeros_like(b)
        gh = 2.0 * hs[steps]
        dz = np.empty((batch, hidden))
        for t in range(steps - 1, -1, -1):
            for i in range(batch):
                for j in range(hidden):
                    h = hs[t + 1, i, j]
                    dz[i, j] = gh[i, j] * (1.0 - h * h)
                    gb[j] += dz[i, j]
                for p in range(d_in):
                    xp = xs[t, i, p]
                    for j in range(hidden):
                        gwx[p, j] += xp * dz[i, j]
                for p in range(hidden):
                    hp = hs[t, i, p]
                    acc = 0.0
                    for j in range(hidden):
                        gwh[p, j] += hp * dz[i, j]
                        acc += dz[i, j] * wh[p, j]
                    gh[i, p] = acc
        return gwx, gwh, gb
    return bptt


def numba_step(d: dict) -> Step:
    bptt = _numba_bptt()
    args = (d["xs"], d["Wx"], d["Wh"], d["b"])
    return lambda: bptt(*args)


def blas_note() -> str:
    """Which BLAS kernels NumPy and the compiled loops use, and the CPU LLVM targets:
    the ratios against JAX depend on them (XLA generates its own matmul code)."""
    try:
        import llvmlite.binding as llvm

        from comparisons.harness import machine
    except ImportError:
        return ""
    from staticgraph.runtime.blas_libraries import describe_loaded
    return (f"BLAS: {describe_loaded()}; CPU as LLVM sees it: "
            f"{llvm.get_host_cpu_name()}. {machine.coretype_note()}")
