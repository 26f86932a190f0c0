"""Scenario "digits": an MLP trained on scikit-learn's bundled 8x8 digits.

Real data (1,797 images shipped inside scikit-learn, no download), a real
model (64 -> 64 ReLU -> 10, softmax cross-entropy, minibatch SGD) and its
test accuracy beside the usual timings: NumPy by hand, dyngraph, staticgraph
(interpret, numba) and the peers, from the same seeded weights and batches.
The CNN version is the scenario "digits_cnn".

    from comparisons import digits
    rows = digits.run(steps=100)
"""

from __future__ import annotations

import numpy as np

from ..framework import Plan, Variant, availability
from ..harness.peers import jax_variant, torch_variant
from ..scenarios import Column, Scenario
from . import training as code


def make_problem(size: code.Size, dtype: np.dtype) -> code.Problem:
    return code.make_problem(size, dtype, "mlp")


def plan(size: code.Size) -> Plan:
    """Every step after the first is timed; three more run instrumented."""
    return Plan(warmup=1, samples=max(size.steps - 1, 1), inner=1, instrument_steps=3)


SCENARIO = Scenario(
    name="digits", title="MLP on scikit-learn's 8x8 digits (real data, test accuracy)",
    order=7, full=code.Size(), quick=code.QUICK, make_problem=make_problem, plan=plan,
    curve="loss", columns=[Column("test_acc", "test acc", "{:.1%}")],
    summary="A real training run: the same seeded weights and minibatches in every "
            "engine, so the loss curves agree and the test accuracy is the same model's.")
run = SCENARIO.run

SCENARIO.add(Variant("numpy", engine="numpy", kind="reference", setup=code.numpy_setup,
                     note="forward and backward by hand"))
SCENARIO.add(Variant("dyngraph", engine="dyngraph", kind="eager", setup=code.dyngraph_setup))
for _backend in ("interpret", "numba"):
    SCENARIO.add(Variant(f"staticgraph-{_backend}", engine="staticgraph", backend=_backend,
                         kind="static", available=availability(_backend),
                         setup=lambda p, b=_backend: code.static_setup(p, b)))
SCENARIO.add(torch_variant("torch-eager", setup=code.torch_setup))
SCENARIO.add(jax_variant("jax-jit", setup=code.jax_setup, note="compiles on the first call"))
