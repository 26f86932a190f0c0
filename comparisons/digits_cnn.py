"""Scenario "digits_cnn": a small CNN trained on scikit-learn's bundled 8x8 digits.

conv 3x3 (8 filters, padding 1) + ReLU -> 2x2 max pool -> linear to 10, with
softmax cross-entropy and minibatch SGD; the convolution and pooling are the
shared op library's `conv2d` and `max_pool2d` in both engines. Eager dyngraph
is the reference; staticgraph (interpret, numba) and PyTorch run the same
seeded weights and batches, and each row reports its test accuracy.

    from comparisons import digits_cnn
    rows = digits_cnn.run(steps=100)
"""

from __future__ import annotations

import numpy as np

from .digits import plan
from .digits import training as code
from .framework import Variant, availability
from .harness.peers import torch_variant
from .scenarios import Column, Scenario


def make_problem(size: code.Size, dtype: np.dtype) -> code.Problem:
    return code.make_problem(size, dtype, "cnn")


SCENARIO = Scenario(
    name="digits_cnn", title="Small CNN on scikit-learn's 8x8 digits (conv, pool, test accuracy)",
    order=8, full=code.Size(), quick=code.QUICK, make_problem=make_problem, plan=plan,
    curve="loss", columns=[Column("test_acc", "test acc", "{:.1%}")],
    summary="Convolution and max pooling from the one op library, eager and compiled, on "
            "real data; the loss curves agree and each row reports its test accuracy.")
run = SCENARIO.run

SCENARIO.add(Variant("dyngraph", engine="dyngraph", kind="eager", setup=code.dyngraph_setup))
for _backend in ("interpret", "numba"):
    SCENARIO.add(Variant(f"staticgraph-{_backend}", engine="staticgraph", backend=_backend,
                         kind="static", available=availability(_backend),
                         setup=lambda p, b=_backend: code.static_setup(p, b)))
SCENARIO.add(torch_variant("torch-eager", setup=code.torch_setup))
