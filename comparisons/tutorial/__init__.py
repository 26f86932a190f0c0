"""Scenario "tutorial": the two-layer net of 'Learning PyTorch with Examples'.

The training code lives in `comparisons.tutorial.training` (NumPy by hand,
dyngraph autograd, dyngraph with a custom ReLU Function) and is re-exported
here; every entry of its `VARIANTS` dict becomes a closed-loop variant, as do
variants other modules register on `SCENARIO`. Peers (PyTorch eager, JAX
jit) are written here, step by step, from the same seeded data.

    from comparisons import tutorial
    rows = tutorial.run(N=64, D_in=1000, H=100, D_out=10, steps=200)

Adding a static-engine variant is one call, e.g.:

    SCENARIO.add(Variant("staticgraph-numba", engine="staticgraph", backend="numba",
                         kind="static", loop=_static_loop("numba")))

where the loop returns losses or {"losses", "build_s", "compile_s": {phase: s}}.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..framework import Plan, Prepared, Variant, availability
from ..harness.peers import jax_variant, torch_variant
from ..scenarios import KIND_ORDER, Scenario
from . import training as tutorial_code
from .training import (  # noqa: F401  the training code, importable from here
    QUICK,
    VARIANTS,
    MyReLU,
    TutorialSize,
    make_data,
    train_dyngraph,
    train_dyngraph_function,
    train_numpy,
)


@dataclass
class Problem:
    """The tutorial's seeded data (x, y, w1, w2) at one size and dtype."""

    size: tutorial_code.TutorialSize
    data: dict
    dtype: np.dtype


def make_problem(size: tutorial_code.TutorialSize, dtype: np.dtype) -> Problem:
    return Problem(size, tutorial_code.make_data(size, dtype=dtype), dtype)


def plan(size: tutorial_code.TutorialSize) -> Plan:
    """Loops run `steps` steps; step-based peers run the same number in all."""
    return Plan(warmup=1, samples=max(size.steps - 1, 1), inner=1, instrument_steps=3,
                loop_steps=size.steps, loop_repeats=5)


def _kind_of(name: str) -> tuple[str, str, str]:
    """(engine, backend, kind) read from a `tutorial_code.VARIANTS` name."""
    if name == "numpy":
        return "numpy", "numpy", "reference"
    if name.startswith("staticgraph"):
        backend = name.partition("-")[2] or "interpret"
        return "staticgraph", backend, "static"
    return name.partition("-")[0], "numpy", "eager"


def tutorial_loop(train) -> Any:
    """A closed loop `(problem, steps) -> losses` over one tutorial trainer."""
    def loop(problem: Problem, steps: int):
        return train(dataclasses.replace(problem.size, steps=steps), problem.data)
    return loop


class TutorialScenario(Scenario):
    """Takes `tutorial_code.VARIANTS` afresh on every run, then the registered ones."""

    def all_variants(self) -> list[Variant]:
        registered = {v.name for v in self.variants}
        from_dict = []
        for name, train in tutorial_code.VARIANTS.items():
            if name in registered:
                continue
            engine, backend, kind = _kind_of(name)
            from_dict.append(Variant(name, engine=engine, backend=backend, kind=kind,
                                     loop=tutorial_loop(train)))
        merged = from_dict + list(self.variants)
        return sorted(merged, key=lambda v: KIND_ORDER.index(v.kind))


SCENARIO = TutorialScenario(
    name="tutorial", title="Two-layer net from 'Learning PyTorch with Examples'", order=1,
    full=TutorialSize(), quick=QUICK, make_problem=make_problem, plan=plan, curve="loss",
    summary="Same seeded weights and data; the loss curves must agree. Static variants "
            "pay build + compile once, then each step is one graph run.")
run = SCENARIO.run


def _jax_setup(problem: Problem, jax) -> Prepared:
    jnp, d = jax.numpy, problem.data
    train_step = tutorial_code.jax_train_step(jax, problem.size.lr)
    state = {k: jnp.asarray(v) for k, v in d.items()}
    losses: list[float] = []

    def step() -> None:
        loss, state["w1"], state["w2"] = train_step(state["w1"], state["w2"], state["x"],
                                                    state["y"])
        losses.append(float(loss))
    return Prepared(step, values=lambda: losses, compile_on_first_call=True)


SCENARIO.add(torch_variant("torch-eager", setup=tutorial_code.torch_setup))
SCENARIO.add(jax_variant("jax-jit", setup=_jax_setup, note="compiles on the first call"))


def _static_loop(backend: str):
    """tutorial.static's loop, imported on first use: a broken engine fails its row only."""
    def loop(problem: Problem, steps: int):
        from .static import static_loop
        return static_loop(backend)(problem, steps)
    return loop


STATIC_BACKENDS = ("interpret", "numba", "cuda")  # cuda rows say why when there is no GPU


def _minimize_loop(backend: str):
    """static_models' optimizer.minimize() version, imported on first use."""
    def loop(problem: Problem, steps: int):
        from ..static_models import tutorial_loop
        return tutorial_loop(backend)(problem, steps)
    return loop


def _register_static() -> None:
    """The TF1-style staticgraph versions: hand-written assigns (the tutorial's own
    code, comparisons/tutorial/static.py) and GradientDescentOptimizer.minimize()."""
    for backend in STATIC_BACKENDS:
        SCENARIO.add(Variant(f"staticgraph-{backend}", engine="staticgraph", backend=backend,
                             kind="static", loop=_static_loop(backend),
                             available=availability(backend),
                             note="graph built once; the tutorial's assign updates"))
        if backend == "cuda":
            continue
        SCENARIO.add(Variant(f"staticgraph-{backend}-minimize", engine="staticgraph",
                             backend=backend, kind="static", loop=_minimize_loop(backend),
                             note="GradientDescentOptimizer(lr).minimize(loss)"))


_register_static()


def _register_compiled() -> None:
    """dg.compile of the tutorial's loss, and torch.compile beside it."""
    from .compiled import tutorial_variants
    for variant in tutorial_variants():
        SCENARIO.add(variant)


_register_compiled()
