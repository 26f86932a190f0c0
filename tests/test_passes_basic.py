"""Dead-code elimination, common-subexpression elimination, constant folding:
each pass alone, structure and numbers (interpreter before == after)."""

from __future__ import annotations

import numpy as np
import pytest
from test_passes_util import assert_same_values, prims, program, run

import staticgraph as sg
from shared_ops import AbstractArray, Primitive
from shared_ops import api as A
from staticgraph.passes import (
    eliminate_common_subexpressions,
    eliminate_dead_code,
    fold_constants,
    graph_key,
    value_key,
)

F64 = "float64"


def test_dce_drops_unused_equations_and_constants(rng):
    def fn(x):
        unused = sg.exp(x) + sg.constant(np.arange(3.0))
        del unused
        return sg.tanh(x)
    prog = program(fn, ((3,), F64))
    assert prims(prog) == ["tanh"]  # extract_program already prunes
    g = prog.copy()
    dead = prog.copy()
    dead.eqns = list(prog.eqns) + [prog.eqns[0].replace(outputs=(sg.Var(prog.outputs[0].aval),))]
    dead.constants = {sg.Var(AbstractArray((2,), np.dtype(F64))): np.zeros(2)}
    out = eliminate_dead_code(sg.check_graph(dead))
    assert prims(out) == ["tanh"] and not out.constants
    assert len(dead.eqns) == 2 and len(dead.constants) == 1  # the input is untouched
    assert_same_values(g, out, rng.standard_normal(3))


def test_dce_keeps_updates_and_effects():
    g = sg.Graph()
    with g.as_default():
        w = sg.Variable(np.ones(3), name="w")
        x = sg.placeholder((3,), F64, name="x")
        step = sg.assign(w, w * x)
        sg.exp(x)  # dead
    out = eliminate_dead_code(g)
    assert prims(out) == ["mul", "assign"]
    prog = sg.extract_program(g, [], [x.var], effects=[step.var])
    kept = eliminate_dead_code(prog)
    assert prims(kept) == ["mul"] and kept.updates == prog.updates


def test_dce_inside_cond_branches(rng):
    def fn(p, x):
        def true_fn():
            sg.exp(x) * 3.0  # dead in the branch
            return sg.tanh(x)
        return sg.cond(p, true_fn, lambda: x * 2.0)
    prog = program(fn, ((), "bool"), ((3,), F64))
    out = eliminate_dead_code(prog)
    (cond,) = out.eqns
    assert prims(cond.params["true_graph"]) == ["tanh"]
    assert prims(prog.eqns[0].params["true_graph"]) == ["exp", "mul", "tanh"]
    for p in (True, False):
        assert_same_values(prog, out, np.array(p), rng.standard_normal(3))


def test_cse_merges_repeated_work(rng):
    def fn(x, y):
        a = sg.exp(x * y)
        b = sg.exp(y * x)  # commutative: the same product
        c = x[np.array([0, 2])] + x[np.array([0, 2])]  # ndarray params
        d = x[np.array([0, 1])]
        return [a + b, c, d, sg.cast(x, "float32"), sg.cast(x, "float32")]
    prog = program(fn, ((3,), F64), ((3,), F64))
    out = eliminate_common_subexpressions(prog)
    assert prims(out).count("mul") == 1 and prims(out).count("exp") == 1
    assert prims(out).count("getitem") == 2 and prims(out).count("cast") == 1
    assert out.outputs[3] is out.outputs[4]
    assert len(prog.eqns) == 11  # the input is untouched
    assert_same_values(prog, out, rng.standard_normal(3), rng.standard_normal(3))


def test_cse_keeps_distinct_literals_and_non_commutative_order(rng):
    def fn(x):
        return [x + 1, x + 1.0, x - 2.0, 2.0 - x, x * 0.0, x * -0.0]
    prog = program(fn, ((3,), "int32"))
    out = eliminate_common_subexpressions(prog)
    assert len(out.eqns) == len(prog.eqns)  # int vs float literal, -0.0 vs 0.0, sub order
    assert_same_values(prog, out, np.arange(3, dtype=np.int32))


def test_cse_merges_constants_and_equal_cond_branches(rng):
    def fn(p, x):
        a = sg.constant(np.arange(3.0))
        b = sg.constant(np.arange(3.0))
        first = sg.cond(p, lambda: sg.exp(x), lambda: x * 2.0)
        second = sg.cond(p, lambda: sg.exp(x), lambda: x * 2.0)
        return [x + a, x + b, first, second]
    prog = program(fn, ((), "bool"), ((3,), F64))
    out = eliminate_common_subexpressions(prog)
    assert len(out.constants) == 1
    assert sorted(prims(out)) == ["add", "cond"]
    for p in (True, False):
        assert_same_values(prog, out, np.array(p), rng.standard_normal(3))


def test_params_keys():
    assert value_key(1) != value_key(1.0) != value_key(True)
    assert value_key(0.0) != value_key(-0.0)
    assert value_key(np.array([1, 2])) == value_key(np.array([1, 2]))
    assert value_key(np.array([1, 2])) != value_key(np.array([1, 2], np.int32))
    assert value_key((slice(None, 2), None, Ellipsis)) == value_key((slice(None, 2), None, ...))
    assert value_key(np.dtype("float32")) == value_key(np.float32)
    hash(value_key({"a": [1, (2, np.zeros(2))]}))

    def branch(k):
        g = sg.Graph()
        with g.as_default():
            x = sg.placeholder((2,), F64)
            g.inputs, g.outputs = [x.var], [(x * k).var]
        return g
    assert graph_key(branch(2.0)) == graph_key(branch(2.0)) != graph_key(branch(3.0))


def test_fold_constants_evaluates_constant_subgraphs(rng):
    def fn(x):
        c = sg.exp(sg.constant(np.arange(3.0))) * 2.0
        big = sg.broadcast_to(sg.constant(np.ones(1)), (300, 300))
        return [x + c, sg.sum(big * x[:1])]
    prog = program(fn, ((3,), F64))
    out = fold_constants(prog)
    assert sorted(prims(out)) == ["add", "broadcast_to", "getitem", "mul", "sum"]  # big stays
    folded = [v for v in out.constants if v not in prog.constants]
    assert folded == [prog.eqns[0].outputs[0], prog.eqns[1].outputs[0]]  # exp, then mul
    np.testing.assert_allclose(out.constants[folded[1]], np.exp(np.arange(3.0)) * 2)
    assert_same_values(prog, out, rng.standard_normal(3))


def test_fold_axis_size_from_static_shape_and_skips_errors():
    def fn(x):
        n = A.axis_size(x, (1,))
        picked = sg.constant(np.ones((2, 3)))[np.array([1, 0])]
        return [sg.sum(x, axis=1) / n, picked]
    prog = program(fn, ((None, 4), F64))
    out = fold_constants(prog)
    assert "axis_size" not in prims(out) and "getitem" not in prims(out)
    assert_same_values(prog, out, np.arange(8.0).reshape(2, 4))


def test_fold_leaves_failing_impls_for_run_time():
    def boom(x):
        raise ValueError("boom")
    boom_p = Primitive("boom", impl=boom, abstract_eval=lambda x: AbstractArray(x.shape, x.dtype))
    g = sg.Graph()
    c = g.add_constant(np.ones(2))
    (out,) = g.add_eqn(boom_p, [c], {}, [c.aval])
    g.outputs = [out]
    folded = fold_constants(g)
    assert [e.prim for e in folded.eqns] == [boom_p]
    with pytest.raises(sg.ShapeError, match="boom"):
        run(folded)


def test_fold_inside_cond(rng):
    def fn(p, x):
        return sg.cond(p, lambda: x * sg.exp(sg.constant(np.ones(3))), lambda: x)
    prog = program(fn, ((), "bool"), ((3,), F64))
    out = fold_constants(prog)
    branch = out.eqns[0].params["true_graph"]
    assert prims(branch) == ["mul"] and len(branch.constants) == 2
    for p in (True, False):
        assert_same_values(prog, out, np.array(p), rng.standard_normal(3))


@pytest.mark.parametrize("max_elements", [0, 10])
def test_fold_size_limit(max_elements):
    prog = program(lambda x: x + sg.exp(sg.constant(np.ones(5))), ((5,), F64))
    out = fold_constants(prog, max_elements=max_elements)
    assert ("exp" in prims(out)) == (max_elements < 5)
