"""The 'Learning PyTorch with Examples' two-layer net, written several ways
(the training code of the "tutorial" scenario, `comparisons/tutorial/`).

x (N, D_in) -> relu(x @ w1) @ w2 -> y_pred; loss = sum((y_pred - y)**2);
plain SGD. Every variant starts from the same seeded data and weights, so
their loss curves agree to rounding (a test asserts rtol 1e-10 in float64).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import dyngraph as dg

from ..framework import Prepared


@dataclass(frozen=True)
class TutorialSize:
    N: int = 64
    D_in: int = 1000
    H: int = 100
    D_out: int = 10
    lr: float = 1e-6
    steps: int = 500


QUICK = TutorialSize(steps=50)


def make_data(size: TutorialSize, seed: int = 0, dtype=np.float64) -> dict:
    """Inputs, targets and initial weights, identical for every variant."""
    rng = np.random.default_rng(seed)
    draw = lambda *shape: rng.standard_normal(shape).astype(dtype)  # noqa: E731
    return {"x": draw(size.N, size.D_in), "y": draw(size.N, size.D_out),
            "w1": draw(size.D_in, size.H), "w2": draw(size.H, size.D_out)}


def train_numpy(size: TutorialSize, data: dict) -> list[float]:
    """Forward and backward written by hand with NumPy."""
    x, y = data["x"], data["y"]
    w1, w2 = data["w1"].copy(), data["w2"].copy()
    losses = []
    for _ in range(size.steps):
        h = x @ w1
        h_relu = np.maximum(h, 0)
        y_pred = h_relu @ w2
        diff = y_pred - y
        losses.append(float(np.sum(diff ** 2)))
        grad_y_pred = 2 * diff
        grad_w2 = h_relu.T @ grad_y_pred
        grad_h = grad_y_pred @ w2.T
        grad_h = np.where(h > 0, grad_h, 0)
        grad_w1 = x.T @ grad_h
        w1 -= size.lr * grad_w1
        w2 -= size.lr * grad_w2
    return losses


def train_dyngraph(size: TutorialSize, data: dict, relu=None) -> list[float]:
    """dyngraph autograd; `relu` swaps in another activation (custom Function)."""
    relu = relu or (lambda t: t.relu())
    x, y = dg.from_numpy(data["x"]), dg.from_numpy(data["y"])
    w1 = dg.tensor(data["w1"], requires_grad=True)
    w2 = dg.tensor(data["w2"], requires_grad=True)
    losses = []
    for _ in range(size.steps):
        y_pred = relu(x.mm(w1)).mm(w2)
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())
        loss.backward()
        with dg.no_grad():
            w1 -= size.lr * w1.grad
            w2 -= size.lr * w2.grad
            w1.grad.zero_()
            w2.grad.zero_()
    return losses


class MyReLU(dg.Function):
    """ReLU as a custom autograd Function, as in the tutorial."""

    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return input.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        grad_input = grad_output.clone()
        grad_input[input < 0] = 0
        return grad_input


def train_dyngraph_function(size: TutorialSize, data: dict) -> list[float]:
    """dyngraph with the custom MyReLU Function."""
    return train_dyngraph(size, data, relu=MyReLU.apply)


VARIANTS = {
    "numpy": train_numpy,
    "dyngraph": train_dyngraph,
    "dyngraph-function": train_dyngraph_function,
}


def jax_train_step(jax, lr: float):
    """`jax.jit` of the tutorial's loss, its gradient and the SGD update:
    (w1, w2, x, y) -> (loss, new w1, new w2)."""
    jnp = jax.numpy

    def loss_fn(w1, w2, x, y):
        return jnp.sum((jnp.maximum(x @ w1, 0) @ w2 - y) ** 2)

    @jax.jit
    def train_step(w1, w2, x, y):
        loss, (g1, g2) = jax.value_and_grad(loss_fn, argnums=(0, 1))(w1, w2, x, y)
        return loss, w1 - lr * g1, w2 - lr * g2
    return train_step


def sgd_update(lib, weights, lr: float) -> None:
    """`w -= lr * w.grad`, then a zeroed grad, for each weight, under `lib.no_grad()`
    (dyngraph or PyTorch: one API)."""
    with lib.no_grad():
        for w in weights:
            w.sub_(lr * w.grad)
            w.grad.zero_()


def torch_setup(problem, torch, compiled: bool = False):
    """The tutorial step in PyTorch eager (or with `torch.compile` of the loss), from
    `problem.data` (x, y, w1, w2) at `problem.size.lr`: a step-based peer's setup."""
    d, lr = problem.data, problem.size.lr
    x, y = torch.from_numpy(d["x"]), torch.from_numpy(d["y"])
    w1 = torch.from_numpy(d["w1"].copy()).requires_grad_()
    w2 = torch.from_numpy(d["w2"].copy()).requires_grad_()

    def loss_fn(x, y):
        return (x.mm(w1).clamp(min=0).mm(w2) - y).pow(2).sum()
    if compiled:
        loss_fn = torch.compile(loss_fn)
    losses: list[float] = []

    def step() -> None:
        loss = loss_fn(x, y)
        losses.append(loss.item())
        loss.backward()
        sgd_update(torch, (w1, w2), lr)
    return Prepared(step, values=lambda: losses, compile_on_first_call=compiled)


def torch_compiled_setup(problem, torch):
    """`torch_setup` with the loss under `torch.compile` (compiles on the first call)."""
    return torch_setup(problem, torch, compiled=True)
