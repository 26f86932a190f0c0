"""The tutorial step through `dg.compile`, and the setups the compile bench times.

The step is `comparisons.tutorial.train_dyngraph`'s loop body compiled whole
(`whole_step`: loss, backward and SGD in one program, the comparisons'
`dyngraph-compiled` row), or with only the loss function compiled
(`compiled_step`: forward and backward one tape node).
"""

from __future__ import annotations

import dyngraph as dg
from comparisons.harness.workload import Step
from comparisons.tutorial.compiled import compiled_train_step
from comparisons.tutorial.training import sgd_update


def compiled_loss(w1, w2, backend: str = "numba"):
    """The tutorial's loss, compiled: (x, y) -> sum((relu(x @ w1) @ w2 - y)^2)."""
    @dg.compile(backend=backend)
    def loss_fn(x, y):
        return (x.mm(w1).relu().mm(w2) - y).pow(2).sum()
    return loss_fn


def compiled_step(data: dict, lr: float, backend: str = "numba") -> Step:
    """One training step: compiled forward and backward, SGD under no_grad."""
    x, y = dg.from_numpy(data["x"]), dg.from_numpy(data["y"])
    w1 = dg.tensor(data["w1"], requires_grad=True)
    w2 = dg.tensor(data["w2"], requires_grad=True)
    loss_fn = compiled_loss(w1, w2, backend)

    def step() -> float:
        loss = loss_fn(x, y)
        value = loss.item()
        loss.backward()
        sgd_update(dg, (w1, w2), lr)
        return value
    return step


def whole_step(data: dict, lr: float, backend: str = "numba") -> Step:
    """One training step compiled whole (loss, backward and SGD in one program)."""
    x, y = dg.from_numpy(data["x"]), dg.from_numpy(data["y"])
    w1 = dg.tensor(data["w1"], requires_grad=True)
    w2 = dg.tensor(data["w2"], requires_grad=True)
    train_step = compiled_train_step(w1, w2, lr, backend)

    def step() -> float:
        return train_step(x, y).item()
    return step


def compile_setup(data: dict, lr: float, backend: str = "numba") -> Step:
    """Trace + compile + the first step of a fresh compiled training step (a
    warm kernel cache after the first time)."""
    def setup() -> None:
        whole_step(data, lr, backend)()
    return setup


def static_setup(data: dict, lr: float, backend: str = "numba") -> Step:
    """Build the hand-written staticgraph step, compile it, run it once."""
    from .bench_static_tutorial import build_function

    def setup() -> None:
        fn = build_function(data, lr, backend)
        fn(data["x"], data["y"])
    return setup
