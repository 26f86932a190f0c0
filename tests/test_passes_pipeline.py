"""`optimize`: the pass pipeline on the tutorial step, on cond graphs, and on
random elementwise graphs (hypothesis), always against the interpreter; the
checker after every pass; the report."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_passes_util import assert_same_values, prims, program, run, tutorial_program

import staticgraph as sg
from staticgraph.passes import (
    DEFAULT_PASSES,
    fused_p,
    optimize,
    passes_for,
    plan_memory,
    simulate_plan,
)

F64 = "float64"


def test_passes_for_enables_passes_by_capability():
    names = lambda caps: [name for name, _ in passes_for(caps)]  # noqa: E731
    assert passes_for(()) == DEFAULT_PASSES
    assert names({"gemm_update"}) == names(())[:-1] + ["gemm_update", "fuse"]
    both = names({"scan_loops", "gemm_update"})
    assert both[:5] == ["scan_reuse", "scan_seed", "scan_hoist", "scan_sink", "scan_shift"]
    assert both[5:] == names({"gemm_update"})
    with pytest.raises(ValueError, match="scan_loop"):
        passes_for({"scan_loop"})


def test_tutorial_step_before_and_after():
    prog, arrays = tutorial_program(D_in=50, H=20)
    out, report = optimize(prog)
    assert [r.name for r in report.records] == [name for name, _ in DEFAULT_PASSES]
    counts = [(r.name, r.eqns_before, r.eqns_after) for r in report.records]
    assert counts[0][1] == len(prog.eqns) == 24 and counts[-1][2] == len(out.eqns) == 13
    assert ("fold", 24, 23) in counts and ("simplify", 23, 22) in counts  # expand_dims, x**1
    assert ("fuse", 22, 13) in counts
    assert prims(out).count("matmul") == 5 and prims(out).count("fused") == 4
    assert "pow" not in prims(out) and len(prog.eqns) == 24  # input untouched
    loss_group = next(e for e in out.eqns if e.prim is fused_p
                      and e.params["group"].reduction is not None)
    assert loss_group.outputs[-1] is out.outputs[0]  # the loss is the fused sum
    assert_same_values(prog, out, *arrays)
    text = report.describe()
    assert "fuse" in text and f"tutorial/static.py:{_line_of('sg.sum((y_pred - y)')}" in text
    assert str(report) == text
    assert report.seconds > 0


def test_cond_graph_counts_and_values(rng):
    def fn(p, x, w):
        h = sg.matmul(x, w)
        return sg.cond(p, lambda: sg.sum(sg.tanh(h * 1.0) * 2.0 + 0.0),
                       lambda: sg.sum(sg.negative(sg.negative(h)) * h))
    prog = program(fn, ((), "bool"), ((None, 3), F64), ((3, 2), F64))
    out, report = optimize(prog)
    before, after = report.records[0].eqns_before, report.records[-1].eqns_after
    assert (before, after) == (11, 4)  # matmul, cond, and one fused op per branch
    for branch in ("true_graph", "false_graph"):
        assert prims(out.eqns[1].params[branch]) == ["fused"]
    assert {f.reduction for f in report.fused} == {"sum"} and len(report.fused) == 2
    for p in (True, False):
        assert_same_values(prog, out, np.array(p), rng.standard_normal((4, 3)),
                           rng.standard_normal((3, 2)))


def test_checker_runs_after_each_pass():
    def broken(graph):
        out = graph.copy()
        out.eqns = list(reversed(graph.eqns))
        return out
    prog = program(lambda x: sg.exp(x) * 2.0, ((3,), F64))
    with pytest.raises(sg.InvalidGraphError, match="after pass 'broken'"):
        optimize(prog, [broken])
    out, report = optimize(prog, [("nothing", lambda g: g.copy()), sg.passes.simplify])
    assert [r.name for r in report.records] == ["nothing", "simplify"] and not report.fused


# ---- random elementwise graphs -------------------------------------------------

UNARY = ["neg", "tanh", "sigmoid", "relu", "abs", "exp"]
BINARY = ["add", "sub", "mul", "maximum", "minimum", "div", "select"]
LITERALS = [0, 1, 0.0, 1.0, -1.5, 2.0]
SHAPES = [(None, 3), (2, 3), (3,), (1, 3), (2, 1), ()]
DTYPES = [F64, F64, "float32", "int64"]  # (sum of int32 is int64 in NumPy: a shared_ops bug)


def _apply(op, args):
    if op == "select":
        return sg.where(args[0] > args[1], args[0], args[1])
    if op in UNARY:
        return getattr(sg, op)(args[0])
    a, b = args
    return {"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
            "div": lambda: a / b, "maximum": lambda: sg.maximum(a, b),
            "minimum": lambda: sg.minimum(a, b)}[op]()


@st.composite
def elementwise_programs(draw):
    """(program, input arrays): a random DAG of elementwise ops, maybe reduced."""
    shapes = draw(st.lists(st.sampled_from(SHAPES), min_size=1, max_size=3))
    dtypes = [draw(st.sampled_from(DTYPES)) for _ in shapes]
    recipe = []
    for k in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(UNARY + BINARY))
        n_args = 1 if op in UNARY else 2
        picks = [draw(st.one_of(st.integers(0, len(shapes) + k - 1).map(lambda i: ("v", i)),
                                st.sampled_from(LITERALS).map(lambda c: ("c", c))))
                 for _ in range(n_args)]
        if all(kind == "c" for kind, _ in picks):
            picks[0] = ("v", len(shapes) + k - 1)
        recipe.append((op, picks))
    reduce = draw(st.sampled_from([None, "sum", "mean", "max"]))
    n_out = draw(st.integers(1, 3))

    def fn(*xs):
        pool = list(xs)
        for op, picks in recipe:
            pool.append(_apply(op, [pool[i] if kind == "v" else i for kind, i in picks]))
        outs = pool[-n_out:]
        if reduce is not None and outs[-1].shape:
            outs[-1] = getattr(sg, reduce)(outs[-1], axis=0)
        return outs
    prog = program(fn, *zip(shapes, dtypes))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    arrays = [(rng.standard_normal(tuple(2 if d is None else d for d in s)) * 3).astype(dt)
              for s, dt in zip(shapes, dtypes)]
    return prog, arrays


@given(elementwise_programs())
def test_random_elementwise_graphs_through_the_pipeline(case):
    prog, arrays = case
    out, report = optimize(prog)
    assert report.records[-1].eqns_after <= len(prog.eqns)
    assert_same_values(prog, out, *arrays)
    with np.errstate(all="ignore"):
        outs, _ = simulate_plan(plan_memory(out), dict(zip(out.inputs, arrays)))
    for got, want in zip(outs, run(prog, *arrays), strict=True):
        np.testing.assert_array_equal(got, want)


def _line_of(fragment: str) -> int:
    """Line number of the static tutorial's source line holding `fragment`."""
    import comparisons.tutorial.static as module
    lines = open(module.__file__).read().splitlines()
    return next(i for i, line in enumerate(lines, 1) if fragment in line)
