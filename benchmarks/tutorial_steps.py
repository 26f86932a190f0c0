"""One training step of the tutorial two-layer net, written for every competitor.

The 'Learning PyTorch with Examples' net: relu(x @ w1) @ w2, loss = sum of
squared error, plain SGD (N=64, D_in=1000, H=100, D_out=10, float64). Each
builder takes the same seeded data and returns a zero-argument step that
does forward, backward, the SGD update, and reads the loss back as a Python
float (as the tutorial does), on its own copy of the weights. Benches of
other engines (the staticgraph Numba step) reuse these as baselines.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

import dyngraph as dg
from comparisons.harness.peers import jax_competitor, torch_competitor
from comparisons.harness.workload import Competitor, Step
from comparisons.tutorial.training import TutorialSize as NetSize
from comparisons.tutorial.training import jax_train_step, make_data  # noqa: F401 (the benches import make_data here)

TINY_NET = NetSize(N=8, D_in=20, H=10, D_out=3)


def numpy_step(data: dict, lr: float) -> Step:
    """Forward and backward written by hand with NumPy (comparisons.tutorial's)."""
    x, y = data["x"], data["y"]
    w1, w2 = data["w1"].copy(), data["w2"].copy()

    def step() -> float:
        nonlocal w1, w2
        h = x @ w1
        h_relu = np.maximum(h, 0)
        diff = h_relu @ w2 - y
        loss = float(np.sum(diff ** 2))
        grad_y_pred = 2 * diff
        grad_w2 = h_relu.T @ grad_y_pred
        grad_h = np.where(h > 0, grad_y_pred @ w2.T, 0)
        grad_w1 = x.T @ grad_h
        w1 -= lr * grad_w1
        w2 -= lr * grad_w2
        return loss
    return step


def blas_floor_step(data: dict, lr: float) -> Step:
    """The step's five matmuls alone, into preallocated buffers: the BLAS floor."""
    x, y, w1, w2 = data["x"], data["y"], data["w1"], data["w2"]
    h = np.empty((x.shape[0], w1.shape[1]))
    out = np.empty_like(y)
    gw1, gw2, gh = np.empty_like(w1), np.empty_like(w2), np.empty_like(h)

    def step() -> None:
        np.matmul(x, w1, out=h)
        np.matmul(h, w2, out=out)
        np.matmul(h.T, out, out=gw2)
        np.matmul(out, w2.T, out=gh)
        np.matmul(x.T, gh, out=gw1)
    return step


def _autograd_step(lib: ModuleType, data: dict, lr: float) -> Step:
    """The tutorial's autograd step, for dyngraph and PyTorch alike (one API)."""
    x, y = lib.from_numpy(data["x"]), lib.from_numpy(data["y"])
    w1 = lib.tensor(data["w1"], requires_grad=True)
    w2 = lib.tensor(data["w2"], requires_grad=True)

    def step() -> float:
        nonlocal w1, w2  # `-=` on a tensor rebinds the name (in place underneath)
        y_pred = x.mm(w1).relu().mm(w2)
        loss = (y_pred - y).pow(2).sum()
        value = loss.item()
        loss.backward()
        with lib.no_grad():
            w1 -= lr * w1.grad
            w2 -= lr * w2.grad
            w1.grad.zero_()
            w2.grad.zero_()
        return value
    return step


def dyngraph_step(data: dict, lr: float) -> Step:
    """dyngraph autograd, written as comparisons.tutorial.train_dyngraph's loop body."""
    return _autograd_step(dg, data, lr)


def torch_step(torch: ModuleType, data: dict, lr: float) -> Step:
    """The tutorial's own PyTorch autograd step."""
    return _autograd_step(torch, data, lr)


def jax_step(jax: ModuleType, data: dict, lr: float) -> Step:
    """`jax.jit` of loss, gradient and update; the loss is read back each step."""
    jnp = jax.numpy
    update = jax_train_step(jax, lr)
    x, y = jnp.asarray(data["x"]), jnp.asarray(data["y"])
    state = [jnp.asarray(data["w1"]), jnp.asarray(data["w2"])]

    def step() -> float:
        loss, state[0], state[1] = update(state[0], state[1], x, y)
        return float(loss)
    return step


def tutorial_competitors(data: dict, lr: float, floor: bool = True) -> list[Competitor]:
    """NumPy, PyTorch eager, JAX jit (and the BLAS floor): the usual baselines."""
    comps = [
        Competitor("numpy", "NumPy (hand-written backward)", lambda: numpy_step(data, lr)),
        torch_competitor(lambda torch: torch_step(torch, data, lr)),
        jax_competitor(lambda jax: jax_step(jax, data, lr)),
    ]
    if floor:
        comps.append(Competitor("blas", "BLAS floor (the 5 matmuls alone)",
                                lambda: blas_floor_step(data, lr)))
    return comps
