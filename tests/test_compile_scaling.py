"""Compile cost linear in graph size: fused groups bounded by a compile-cost
model, structurally equal groups sharing one kernel, orchestrator source
growing linearly. Structural checks only (no timing)."""

from __future__ import annotations

import numpy as np
import pytest
from numba_backend_util import assert_close, numba_cache_dir  # noqa: F401
from test_passes_util import program, run

import staticgraph as sg
from shared_ops import REGISTRY
from staticgraph.compiler.group import compile_cost
from staticgraph.numba_backend.runner import NumbaRunner
from staticgraph.passes import fuse_elementwise, fused_p
from staticgraph.passes.fusion import MAX_GROUP_COST


def chain_program(n: int):
    """`y = tanh(y) + 0.5` and `y * 1.0001` alternating, n times; the sum and its gradient."""
    def fn(x):
        y = x
        for i in range(n):
            y = sg.tanh(y) + 0.5 if i % 2 == 0 else y * 1.0001
        loss = sg.sum(y)
        return [loss, sg.gradients(loss, [x])[0]]
    return program(fn, ((None,), np.float64), name=f"chain{n}")


def group_cost(eqn) -> int:
    return sum(compile_cost(REGISTRY[s.prim]) for s in eqn.params["group"].steps)


@pytest.mark.parametrize("max_cost", [10, 24, MAX_GROUP_COST])
def test_every_fused_group_is_within_the_cost_bound(max_cost, rng):
    prog = chain_program(40)
    out = sg.check_graph(fuse_elementwise(prog, max_cost=max_cost))
    groups = [e for e in out.eqns if e.prim is fused_p]
    assert groups and all(group_cost(e) <= max_cost for e in groups)
    assert sum(len(e.params["group"].steps) for e in groups) >= 0.9 * len(prog.eqns)
    x = rng.standard_normal(7)
    for got, want in zip(run(out, x), run(prog, x)):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)


def test_an_op_over_the_bound_stays_unfused():
    prog = program(lambda x: sg.tanh(x) * 2.0 + 1.0, ((None,), np.float64))
    out = fuse_elementwise(prog, max_cost=compile_cost(REGISTRY["tanh"]) - 1)
    assert [e.prim.name for e in out.eqns][0] == "tanh"
    assert [len(e.params["group"].steps) for e in out.eqns if e.prim is fused_p] == [2]


def test_structurally_equal_groups_share_kernels_and_codegen_is_linear(rng):
    """The number of distinct kernels does not grow with the chain; the number of
    fused calls and the orchestrator's source grow linearly."""
    sizes = (60, 180)
    runners = [NumbaRunner(chain_program(n)) for n in sizes]
    x = rng.uniform(-1.0, 1.0, 33)
    calls, sources = [], []
    for runner in runners:
        got = runner([x], {})
        want = run(runner.program, x)
        for g, w in zip(got, want):
            assert_close(g, w)
        calls.append(sum(e.prim is fused_p for e in runner.optimized.eqns))
        sources.append(len(runner.comp.graphs[-1].source))
    kernels = [{k.key for k in r.kernels} for r in runners]
    assert len(kernels[1]) == len(kernels[0]) <= 6
    assert len(kernels[0] & kernels[1]) >= len(kernels[0]) - 1  # all but a remainder piece
    ratio = sizes[1] / sizes[0]
    assert 0.8 * ratio <= calls[1] / calls[0] <= 1.2 * ratio
    assert sources[1] / sources[0] <= 1.2 * ratio
