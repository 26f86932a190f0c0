"""Scenario "per_op": what one tiny op costs beyond its arithmetic.

One elementwise multiply of two 16-element arrays. The arithmetic takes
nanoseconds; what the rows measure is the fixed cost of getting there: a
NumPy ufunc call, dyngraph's dispatch (wrap, run impl), and with gradient
tracking the tape node it records. A static graph pays this per graph run,
not per op, once the graph is compiled into one function.

    from comparisons import per_op
    rows = per_op.run(n=16, inner=2000)

A static variant builds a graph of the one multiply (two placeholders) and
times one graph run per step, with and without a gradient in the graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import dyngraph as dg

from .framework import Plan, Prepared
from .harness.peers import jax_variant, torch_variant
from .scenarios import Scenario


@dataclass(frozen=True)
class Size:
    n: int = 16
    inner: int = 2000
    samples: int = 30
    seed: int = 0


@dataclass
class Problem:
    size: Size
    dtype: np.dtype
    x: np.ndarray
    y: np.ndarray


def make_problem(size: Size, dtype: np.dtype) -> Problem:
    rng = np.random.default_rng(size.seed)
    draw = lambda: rng.standard_normal(size.n).astype(dtype)  # noqa: E731
    return Problem(size, dtype, draw(), draw())


def plan(size: Size) -> Plan:
    return Plan(warmup=size.inner, samples=size.samples, inner=size.inner,
                instrument_steps=10)


SCENARIO = Scenario(
    name="per_op", title="Per-op overhead: one 16-element multiply", order=5,
    full=Size(), quick=Size(inner=300, samples=10), make_problem=make_problem, plan=plan,
    summary="Fixed cost per op call: dispatch, and with grad tracking one tape node. "
            "An eager engine pays it for every op of every step.")
run = SCENARIO.run


def _keep(out: list, fn):
    """A step storing its last result, so `values` can check it."""
    def step() -> None:
        out[:] = [fn()]
    return step


@SCENARIO.variant("numpy", engine="numpy", kind="reference")
def numpy_variant(p: Problem) -> Prepared:
    x, y, out = p.x, p.y, []
    return Prepared(_keep(out, lambda: np.multiply(x, y)), values=lambda: out[0],
                    ops_per_step=1)


def _dyngraph(requires_grad: bool, no_grad_block: bool = False):
    def setup(p: Problem) -> Prepared:
        x = dg.tensor(p.x, requires_grad=requires_grad)
        y = dg.tensor(p.y, requires_grad=requires_grad)
        out: list = []
        if no_grad_block:
            def multiply():
                with dg.no_grad():
                    return x * y
        else:
            multiply = lambda: x * y  # noqa: E731
        return Prepared(_keep(out, multiply), values=lambda: out[0].detach().numpy())
    return setup


SCENARIO.variant("dyngraph", engine="dyngraph", kind="eager",
                 note="inputs do not require grad: no tape")(_dyngraph(False))
SCENARIO.variant("dyngraph-grad", engine="dyngraph", kind="eager",
                 note="inputs require grad: one tape node per op")(_dyngraph(True))
SCENARIO.variant("dyngraph-no_grad", engine="dyngraph", kind="eager",
                 note="inputs require grad, op inside `with no_grad()`")(_dyngraph(True, True))


def _torch(requires_grad: bool):
    def setup(p: Problem, torch) -> Prepared:
        x = torch.tensor(p.x, requires_grad=requires_grad)
        y = torch.tensor(p.y, requires_grad=requires_grad)
        out: list = []
        return Prepared(_keep(out, lambda: x * y), values=lambda: out[0].detach().numpy())
    return setup


def _jax_setup(p: Problem, jax) -> Prepared:
    x, y = jax.numpy.asarray(p.x), jax.numpy.asarray(p.y)
    multiply = jax.jit(lambda a, b: a * b)
    out: list = []
    return Prepared(_keep(out, lambda: multiply(x, y).block_until_ready()),
                    values=lambda: np.asarray(out[0]), compile_on_first_call=True)


SCENARIO.add(torch_variant("torch-eager", setup=_torch(False)))
SCENARIO.add(torch_variant("torch-eager-grad", setup=_torch(True),
                           note="inputs require grad: autograd records a node"))
SCENARIO.add(jax_variant("jax-jit", setup=_jax_setup, note="dispatch of a jitted op"))


def _register_compiled() -> None:
    """dg.compile of the one multiply, with and without a gradient."""
    from .compiled_variants import per_op_variants
    for variant in per_op_variants():
        SCENARIO.add(variant)


_register_compiled()
