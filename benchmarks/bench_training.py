"""Training steps at sizes users train: an MLP step and an LSTM BPTT step.

MLP: 784-512-512-10 with relu, softmax cross-entropy against one-hot labels,
plain SGD, float32, batch 256; the loss is read back as a Python float each
step. LSTM: T=50, batch 32, input and hidden 256, float32, gates i, f, g, o
packed along one 4*hidden axis (PyTorch's layout); loss = sum(h_T ** 2); the
step returns the gradients w.r.t. Wx, Wh and b. Every competitor gets the
same seeded data and works on its own copy of the weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np

import dyngraph as dg
import staticgraph as sg
from comparisons.harness.peers import jax_competitor, torch_competitor
from comparisons.harness.workload import BLAS_SETTLE_S, Competitor, RatioTarget, Step, Workload

from .registry import BenchContext, register
from .report import Section

F32 = np.float32


@dataclass(frozen=True)
class MlpSize:
    batch: int = 256
    widths: tuple[int, ...] = (784, 512, 512, 10)
    lr: float = 0.01


@dataclass(frozen=True)
class LstmSize:
    steps: int = 50
    batch: int = 32
    d_in: int = 256
    hidden: int = 256


TINY_MLP = MlpSize(batch=8, widths=(12, 8, 8, 3))
TINY_LSTM = LstmSize(steps=4, batch=2, d_in=3, hidden=4)


# ---- MLP ------------------------------------------------------------------------------
def mlp_data(size: MlpSize, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    w = size.widths
    params = {}
    for k in range(len(w) - 1):
        bound = np.sqrt(6 / (w[k] + w[k + 1]))
        params[f"W{k}"] = rng.uniform(-bound, bound, (w[k], w[k + 1])).astype(F32)
        params[f"b{k}"] = np.zeros(w[k + 1], F32)
    labels = rng.integers(0, w[-1], size.batch)
    return {"x": rng.standard_normal((size.batch, w[0])).astype(F32),
            "t": np.eye(w[-1], dtype=F32)[labels], "params": params, "layers": len(w) - 1}


def mlp_static_step(d: dict, lr: float) -> Step:
    """`sg.function` with the SGD updates, backend numba."""
    g = sg.Graph("mlp")
    with g.as_default():
        x = sg.placeholder((None, d["x"].shape[1]), F32, name="x")
        t = sg.placeholder((None, d["t"].shape[1]), F32, name="t")
        p = {k: sg.Variable(v.copy(), name=k) for k, v in d["params"].items()}
        h = x
        for k in range(d["layers"]):
            h = sg.matmul(h, p[f"W{k}"]) + p[f"b{k}"]
            if k < d["layers"] - 1:
                h = sg.relu(h)
        loss = -sg.sum(t * sg.log_softmax(h, axis=1)) * (1.0 / d["x"].shape[0])
        grads = sg.gradients(loss, list(p.values()))
        updates = [(v, v - lr * gv) for v, gv in zip(p.values(), grads)]
        f = sg.function([x, t], loss, updates=updates, backend="numba")
    return lambda: float(f(d["x"], d["t"]))


def _mlp_autograd_step(lib: ModuleType, d: dict, lr: float) -> Step:
    """dyngraph and PyTorch eager alike (one API)."""
    x, t = lib.from_numpy(d["x"]), lib.from_numpy(d["t"])
    params = [lib.tensor(v.copy(), requires_grad=True) for v in d["params"].values()]
    scale = 1.0 / d["x"].shape[0]

    def step() -> float:
        h = x
        for k in range(d["layers"]):
            h = h.mm(params[2 * k]) + params[2 * k + 1]
            if k < d["layers"] - 1:
                h = h.relu()
        loss = -(t * lib.log_softmax(h, 1)).sum() * scale
        value = loss.item()
        loss.backward()
        with lib.no_grad():
            for p in params:
                p -= lr * p.grad
                p.grad.zero_()
        return value
    return step


def mlp_jax_step(jax: ModuleType, d: dict, lr: float) -> Step:
    jnp = jax.numpy
    layers, scale = d["layers"], 1.0 / d["x"].shape[0]

    def loss_fn(params, x, t):
        h = x
        for k in range(layers):
            h = h @ params[2 * k] + params[2 * k + 1]
            if k < layers - 1:
                h = jnp.maximum(h, 0)
        return -jnp.sum(t * jax.nn.log_softmax(h, axis=1)) * scale

    @jax.jit
    def update(params, x, t):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, t)
        return loss, [p - lr * g for p, g in zip(params, grads)]

    x, t = jnp.asarray(d["x"]), jnp.asarray(d["t"])
    state = [[jnp.asarray(v) for v in d["params"].values()]]

    def step() -> float:
        loss, state[0] = update(state[0], x, t)
        return float(loss)
    return step


def mlp_workload(size: MlpSize) -> Workload:
    d = mlp_data(size)
    comps = [
        Competitor("numba", "staticgraph numba", lambda: mlp_static_step(d, size.lr)),
        Competitor("dyngraph", "dyngraph", lambda: _mlp_autograd_step(dg, d, size.lr)),
        torch_competitor(lambda torch: _mlp_autograd_step(torch, d, size.lr)),
        jax_competitor(lambda jax: mlp_jax_step(jax, d, size.lr)),
    ]
    targets = [RatioTarget("numba", "torch", 1.0), RatioTarget("numba", "jax", 1.0),
               RatioTarget("dyngraph", "torch", 1.15)]
    return Workload(f"MLP {'-'.join(map(str, size.widths))} step, batch {size.batch}, "
                    "float32", comps, unit="ms", baselines=("torch", "jax"),
                    targets=targets, settle_s=BLAS_SETTLE_S)


# ---- LSTM -----------------------------------------------------------------------------
def lstm_data(size: LstmSize, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    bound = 1 / np.sqrt(size.hidden)
    u = lambda *shape: rng.uniform(-bound, bound, shape).astype(F32)  # noqa: E731
    return {"xs": rng.standard_normal((size.steps, size.batch, size.d_in)).astype(F32),
            "Wx": u(size.d_in, 4 * size.hidden), "Wh": u(size.hidden, 4 * size.hidden),
            "b": u(4 * size.hidden)}


def lstm_cell(ops, w, state, x):
    """(h, c) -> (h', c'); `ops` is the engine namespace (sigmoid, tanh)."""
    h, c = state
    n = h.shape[-1]
    z = x @ w[0] + h @ w[1] + w[2]
    i, f, g, o = (z[:, k * n:(k + 1) * n] for k in range(4))
    c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
    return ops.sigmoid(o) * ops.tanh(c), c


def lstm_static_step(d: dict) -> Step:
    """`sg.scan` over time, gradients by the scan's reverse scan, backend numba."""
    g = sg.Graph("lstm")
    with g.as_default():
        w = [sg.Variable(d[k].copy(), name=k) for k in ("Wx", "Wh", "b")]
        steps, batch, d_in = d["xs"].shape
        xs = sg.placeholder((None, batch, d_in), F32, name="xs")
        zero = np.zeros((batch, d["Wh"].shape[0]), F32)
        hs, _ = sg.scan(lambda s, x: lstm_cell(sg, w, s, x), xs,
                        initializer=(sg.constant(zero), sg.constant(zero.copy())))
        last = hs[-1]
        grads = sg.gradients(sg.sum(last * last), w)
    sess = sg.Session(g, backend="numba", tiered=False)
    feed = {xs: d["xs"]}
    return lambda: sess.run(grads, feed)


def _lstm_loop_step(lib: ModuleType, grad, d: dict) -> Step:
    """A Python loop over time, for dyngraph and PyTorch eager alike."""
    w = [lib.tensor(d[k].copy(), requires_grad=True) for k in ("Wx", "Wh", "b")]
    xs = lib.from_numpy(d["xs"])
    zero = np.zeros((d["xs"].shape[1], d["Wh"].shape[0]), F32)

    def step():
        state = (lib.from_numpy(zero), lib.from_numpy(zero.copy()))
        for t in range(len(xs)):
            state = lstm_cell(lib, w, state, xs[t])
        h = state[0]
        return grad((h * h).sum(), w)
    return step


def lstm_jax_step(jax: ModuleType, d: dict) -> Step:
    jnp = jax.numpy
    ops = type("ops", (), {"sigmoid": staticmethod(jax.nn.sigmoid),
                           "tanh": staticmethod(jnp.tanh)})

    def loss(w, xs):
        zero = jnp.zeros((xs.shape[1], w[1].shape[0]), xs.dtype)
        cell = lambda s, x: (lstm_cell(ops, w, s, x), None)  # noqa: E731
        (h, _), _ = jax.lax.scan(cell, (zero, zero), xs)
        return jnp.sum(h * h)

    grad = jax.jit(jax.grad(loss))
    w = [jnp.asarray(d[k]) for k in ("Wx", "Wh", "b")]
    xs = jnp.asarray(d["xs"])
    return lambda: jax.block_until_ready(grad(w, xs))


def lstm_workload(size: LstmSize) -> Workload:
    d = lstm_data(size)
    comps = [
        Competitor("numba", "staticgraph numba (sg.scan)", lambda: lstm_static_step(d)),
        Competitor("dyngraph", "dyngraph (Python loop)",
                   lambda: _lstm_loop_step(dg, dg.grad, d)),
        torch_competitor(lambda torch: _lstm_loop_step(torch, torch.autograd.grad, d),
                         note="Python loop"),
        jax_competitor(lambda jax: lstm_jax_step(jax, d), label="JAX jit + lax.scan"),
    ]
    return Workload(f"LSTM BPTT step, T={size.steps}, batch {size.batch}, hidden "
                    f"{size.hidden}, float32", comps, unit="ms", baselines=("jax", "torch"),
                    targets=[RatioTarget("numba", "jax", 1.0)], settle_s=BLAS_SETTLE_S)


INTRO = """\
Training steps at sizes users train (float32). MLP 784-512-512-10, batch 256: relu, softmax
cross-entropy, SGD, the loss read back each step; staticgraph is one `sg.function` with the
updates. LSTM BPTT, T=50, batch 32, input and hidden 256: loss sum(h_T**2), the gradients of
Wx, Wh, b; staticgraph runs `sg.scan` and its gradient in a `Session`. Targets:
MLP numba <= 1.0x PyTorch eager and <= 1.0x JAX jit, dyngraph <= 1.15x PyTorch; LSTM
numba <= 1.0x JAX `lax.scan`."""


@register("training", "training steps: MLP and LSTM BPTT")
def bench_training(ctx: BenchContext) -> list[Section]:
    mlp, lstm = (TINY_MLP, TINY_LSTM) if ctx.tiny else (MlpSize(), LstmSize())
    results = [ctx.measure(mlp_workload(mlp)), ctx.measure(lstm_workload(lstm))]
    return [Section("MLP and LSTM training steps", results, intro=INTRO)]
