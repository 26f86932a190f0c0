"""The tutorial's `dyngraph-compiled` row (its loss under `dg.compile`) and the
`torch-compile` peer beside it."""

from __future__ import annotations

import dyngraph as dg

from ..compiled_variants import BACKEND, NAME, compiled_prepared, compiled_variant
from ..framework import Prepared, Variant
from ..harness.peers import torch_variant
from .training import torch_compiled_setup


def _tutorial_setup(problem) -> Prepared:
    d, lr = problem.data, problem.size.lr
    x, y = dg.from_numpy(d["x"]), dg.from_numpy(d["y"])
    w1 = dg.tensor(d["w1"].copy(), requires_grad=True)
    w2 = dg.tensor(d["w2"].copy(), requires_grad=True)
    loss_fn = dg.compile(lambda x, y: (x.mm(w1).relu().mm(w2) - y).pow(2).sum(),
                         backend=BACKEND)
    losses: list[float] = []

    def step() -> None:
        loss = loss_fn(x, y)
        losses.append(loss.item())
        loss.backward()
        with dg.no_grad():
            w1.sub_(lr * w1.grad)
            w2.sub_(lr * w2.grad)
            w1.grad.zero_()
            w2.grad.zero_()
    return compiled_prepared(step, lambda: losses, loss_fn)


def tutorial_variants() -> list[Variant]:
    return [compiled_variant(NAME, _tutorial_setup,
                             "loss traced once; forward+backward one tape node"),
            torch_variant("torch-compile", setup=torch_compiled_setup,
                          note="torch.compile of the loss; first call is setup")]
