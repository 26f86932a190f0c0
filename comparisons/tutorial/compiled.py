"""The tutorial's `dyngraph-compiled` row (its whole training step under
`dg.compile`) and the `torch-compile` peer beside it."""

from __future__ import annotations

import dyngraph as dg

from ..compiled_variants import BACKEND, NAME, compiled_prepared, compiled_variant
from ..framework import Prepared, Variant
from ..harness.peers import torch_variant
from .training import sgd_update, torch_compiled_setup


def compiled_train_step(w1, w2, lr: float, backend: str = BACKEND):
    """The tutorial's training step compiled whole: loss, backward and the SGD
    update in one program; call it with (x, y), it returns the loss."""
    @dg.compile(backend=backend)
    def train_step(x, y):
        loss = (x.mm(w1).relu().mm(w2) - y).pow(2).sum()
        loss.backward()
        sgd_update(dg, (w1, w2), lr)
        return loss
    return train_step


def _tutorial_setup(problem) -> Prepared:
    d, lr = problem.data, problem.size.lr
    x, y = dg.from_numpy(d["x"]), dg.from_numpy(d["y"])
    w1 = dg.tensor(d["w1"].copy(), requires_grad=True)
    w2 = dg.tensor(d["w2"].copy(), requires_grad=True)
    train_step = compiled_train_step(w1, w2, lr)
    losses: list[float] = []

    def step() -> None:
        losses.append(train_step(x, y).item())
    return compiled_prepared(step, lambda: losses, train_step)


def tutorial_variants() -> list[Variant]:
    return [compiled_variant(NAME, _tutorial_setup,
                             "the whole step traced: loss, backward, SGD in one program"),
            torch_variant("torch-compile", setup=torch_compiled_setup,
                          note="torch.compile of the loss; first call is setup")]
