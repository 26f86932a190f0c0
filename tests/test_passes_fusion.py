"""Elementwise fusion: groups, broadcasting inputs, several outputs, fused
reductions, cycle avoidance, the `fused` primitive and its compiler group."""

from __future__ import annotations

import numpy as np
import pytest
from test_passes_util import assert_same_values, prims, program, run

import staticgraph as sg
from staticgraph.compiler.group import Ref
from staticgraph.passes import fuse_elementwise, fused_p, to_compiler_group

F64 = "float64"


def fused_eqns(graph):
    return [e for e in graph.eqns if e.prim is fused_p]


def fused(prog, **kw):
    return sg.check_graph(fuse_elementwise(prog, **kw))


def test_chain_becomes_one_fused_op(rng):
    prog = program(lambda x: sg.tanh(x * 0.5 + 1.0) * sg.sigmoid(x) - sg.exp(-x * x),
                   ((None, 4), F64))
    out = fused(prog)
    (eqn,) = out.eqns
    assert eqn.prim is fused_p and eqn.outputs == tuple(prog.outputs)
    group = to_compiler_group(eqn)
    assert [s.prim for s in group.steps] == prims(prog)
    assert group.outputs == (len(group.steps) - 1,) and group.reduction is None
    assert len(group.inputs) == 1 and group.inputs[0].ndim == 2
    assert group.steps[0].args == (Ref("in", 0), 0.5)  # literals stay in the steps
    assert eqn.params["sites"] == (group.steps[0].site,)
    assert prims(eqn.params["body"]) == prims(prog)
    assert_same_values(prog, out, rng.standard_normal((3, 4)))
    assert len(prog.eqns) == 9  # the input is untouched


def test_broadcasting_inputs_and_patterns(rng):
    prog = program(lambda x, b, c: sg.relu(x + b) * c, ((None, 3), F64), ((3,), F64),
                   ((None, 1), F64))
    (eqn,) = fused(prog).eqns
    group = to_compiler_group(eqn)
    assert [(i.ndim, i.broadcast) for i in group.inputs] == [(2, ()), (1, ()), (2, (1,))]
    assert_same_values(prog, fused(prog), rng.standard_normal((2, 3)), rng.standard_normal(3),
                       rng.standard_normal((2, 1)))


def test_several_outputs_when_used_outside(rng):
    def fn(x, w):
        y = x * 2.0
        z = sg.exp(y) + 1.0
        return [sg.matmul(y, w), z]
    prog = program(fn, ((2, 3), F64), ((3, 2), F64))
    out = fused(prog)
    (eqn,) = fused_eqns(out)
    assert [v for v in eqn.outputs] == [prog.eqns[0].outputs[0], prog.outputs[1]]
    assert to_compiler_group(eqn).outputs == (0, 2)
    assert prims(out) == ["fused", "matmul"]
    assert_same_values(prog, out, rng.standard_normal((2, 3)), rng.standard_normal((3, 2)))


def test_reduction_fuses_into_the_loop(rng):
    def fn(x, y):
        d = x - y
        return [sg.sum(d * d), d * 3.0]  # d*d feeds only the sum; d*3 is an output
    prog = program(fn, ((None, 5), F64), ((None, 5), F64))
    out = fused(prog)
    (eqn,) = out.eqns
    group = to_compiler_group(eqn)
    assert group.reduction.kind == "sum" and group.reduction.axes == (0, 1)
    assert group.reduction.arg == Ref("step", 1)
    assert eqn.outputs[-1] is prog.outputs[0] and eqn.outputs[0] is prog.outputs[1]
    assert_same_values(prog, out, rng.standard_normal((4, 5)), rng.standard_normal((4, 5)))


@pytest.mark.parametrize("kind", ["sum", "mean", "max"])
def test_reduction_kinds_and_keepdims(kind, rng):
    reduce = getattr(sg, kind)
    prog = program(lambda x: reduce(sg.exp(x) * 2.0, axis=1, keepdims=True) + 1.0,
                   ((None, 4), F64))
    out = fused(prog)
    assert prims(out) == ["fused", "add"]
    red = to_compiler_group(out.eqns[0]).reduction
    assert (red.kind, red.axes, red.keepdims) == (kind, (1,), True)
    assert_same_values(prog, out, rng.standard_normal((3, 4)))


def test_reduction_not_fused_when_the_group_needs_its_result(rng):
    def fn(x):
        e = sg.exp(x)
        return e / sg.sum(e, axis=1, keepdims=True)  # softmax-like: div needs the sum
    prog = program(fn, ((2, 3), F64))
    out = fused(prog)
    assert prims(out) == ["fused", "div"]  # exp + sum share a loop; div must wait for it
    group = to_compiler_group(out.eqns[0])
    assert [s.prim for s in group.steps] == ["exp"] and group.reduction.kind == "sum"
    assert_same_values(prog, out, rng.standard_normal((2, 3)))


def test_no_reduction_of_a_loop_with_static_ones(rng):
    prog = program(lambda x: sg.sum(x * 2.0), ((1, 3), F64))
    out = fused(prog)
    assert prims(out) == ["mul", "sum"]
    assert_same_values(prog, out, rng.standard_normal((1, 3)))


def test_no_cycle_through_a_non_fused_op(rng):
    def fn(x, w):
        a = sg.exp(x)
        b = sg.matmul(a, w)
        return a + b  # a and the add may not share a loop: b sits between them
    prog = program(fn, ((3, 3), F64), ((3, 3), F64))
    out = fused(prog)
    assert prims(out) == ["exp", "matmul", "add"]
    assert_same_values(prog, out, rng.standard_normal((3, 3)), rng.standard_normal((3, 3)))


def test_groups_are_placed_in_a_valid_order(rng):
    def fn(x, w):
        a = x * 2.0
        b = sg.matmul(a, w)  # uses the first member's value
        c = sg.tanh(a) + 1.0  # later members
        return [b, c]
    prog = program(fn, ((3, 3), F64), ((3, 3), F64))
    out = fused(prog)
    assert prims(out) == ["fused", "matmul"]
    assert_same_values(prog, out, rng.standard_normal((3, 3)), rng.standard_normal((3, 3)))


def test_values_are_not_recomputed_in_a_larger_loop(rng):
    prog = program(lambda x, b: x * sg.exp(b * 2.0), ((None, 3), F64), ((3,), F64))
    out = fused(prog)
    assert prims(out) == ["fused", "mul"]  # exp(b*2) has shape [3]; the mul [?, 3]
    assert_same_values(prog, out, rng.standard_normal((2, 3)), rng.standard_normal(3))


def test_min_size():
    prog = program(lambda x: sg.tanh(x), ((3,), F64))
    assert prims(fused(prog)) == ["tanh"]
    assert prims(fused(prog, min_size=1)) == ["fused"]
    assert_same_values(prog, fused(prog, min_size=1), np.arange(3.0))


def test_fusion_inside_cond_branches(rng):
    prog = program(lambda p, x: sg.cond(p, lambda: sg.exp(x) * 2.0 + 1.0, lambda: x),
                   ((), "bool"), ((3,), F64))
    out = fused(prog)
    assert prims(out.eqns[0].params["true_graph"]) == ["fused"]
    for p in (True, False):
        assert_same_values(prog, out, np.array(p), rng.standard_normal(3))


def test_fused_eqn_runs_in_the_interpreter_and_checker(rng):
    prog = program(lambda x: sg.sum(sg.abs(x - 1.0)), ((None, 2), F64))
    (eqn,) = fused(prog).eqns
    avals = fused_p.abstract_eval(*[x.aval for x in eqn.inputs], **eqn.params)
    assert [str(a) for a in avals] == ["float64[]"]
    a = rng.standard_normal((3, 2))
    (direct,) = fused_p.impl(a, **eqn.params)
    np.testing.assert_array_equal(direct, run(prog, a)[0])
    with pytest.raises(TypeError):
        to_compiler_group(prog.eqns[0])


def test_compiled_groups_agree_with_the_interpreter(tmp_path, rng):
    pytest.importorskip("numba")
    from staticgraph.compiler import KernelCache, compile_group
    prog = program(lambda x, y: [sg.sum((x - y) ** 2), sg.where(x > 0, y * 2.0, 0.0)],
                   ((None, 8), F64), ((None, 8), F64))
    out = fused(prog)
    a, b = rng.standard_normal((5, 8)), rng.standard_normal((5, 8))
    assert prims(out) == ["fused", "fused"]  # two groups: they share inputs, not data flow
    for eqn in out.eqns:
        kernel = compile_group(to_compiler_group(eqn), cache=KernelCache(tmp_path))
        args = [{out.inputs[0]: a, out.inputs[1]: b}[v] for v in eqn.inputs]
        expected = fused_p.impl(*args, **eqn.params)
        buffers = tuple(np.empty_like(np.asarray(v)) for v in expected)
        kernel(*args, out=buffers)
        for got, want in zip(buffers, expected):
            np.testing.assert_allclose(got, want, rtol=1e-12)
