"""Algebraic simplification: each rule's structure and numbers, and the cases
where broadcasting, dtype promotion or non-exactness must block a rule."""

from __future__ import annotations

import numpy as np
import pytest
from test_passes_util import assert_same_values, prims, program

import staticgraph as sg
from shared_ops import api as A
from staticgraph.passes import eliminate_dead_code, simplify
from staticgraph.passes.simplify_rules import lossless

F64, F32 = "float64", "float32"


def simplified(prog):
    """simplify, then DCE (simplify leaves dead operands behind)."""
    return eliminate_dead_code(sg.check_graph(simplify(prog)))


@pytest.mark.parametrize("fn", [
    lambda x: x * 1, lambda x: 1.0 * x, lambda x: x + 0, lambda x: 0.0 + x, lambda x: x - 0,
    lambda x: x / 1, lambda x: x ** 1, lambda x: sg.negative(sg.negative(x)),
    lambda x: A.stop_gradient(x),
    lambda x: x * sg.constant(np.ones((1, 3))), lambda x: x + sg.constant(np.zeros(3)),
    lambda x: sg.cast(x, F64), lambda x: sg.sum(x, axis=()), lambda x: sg.max(x, axis=()),
    lambda x: x[:, ...], lambda x: sg.where(x > 0, x, x),
    lambda x: sg.transpose(sg.transpose(x, (1, 0)), (1, 0)),
    lambda x: sg.reshape(x, (-1, 3)), lambda x: sg.cast(sg.cast(x, "float64"), F64),
], ids=lambda f: "")
def test_identity_rules_remove_the_op(fn, rng):
    prog = program(fn, ((None, 3), F64))
    out = simplified(prog)
    assert out.eqns == [] and out.outputs == out.inputs
    a = rng.standard_normal((2, 3))
    a[0, 0] = np.nan
    assert_same_values(prog, out, a)


@pytest.mark.parametrize("fn, dtype", [
    (lambda x: x + sg.constant(np.zeros((4, 2, 3))), F64),  # broadcasting: a new leading dim
    (lambda x: x * sg.constant(np.ones((4, 1, 3))), F64),
    (lambda x: x * 1.0, "int32"),  # weak float promotes int32 to float64
    (lambda x: x + sg.constant(np.array(0.0)), F32),  # a 0-d float64 array promotes float32
    (lambda x: x + 0, "bool"),  # bool + int is int64
    (lambda x: x * 0.0, F64),  # x*0 is NaN for Inf and NaN
    (lambda x: sg.exp(sg.log(x)), F64),  # not exact: log changes the domain
    (lambda x: sg.log(sg.exp(x)), F64),  # not exact: exp overflows
    (lambda x: x - x, F64),
    (lambda x: sg.sum(x, axis=()), "bool"),  # sum of bools is int64
    (lambda x: sg.cast(sg.cast(x, F32), F64), F64),  # lossy inner cast
    (lambda x: sg.cast(sg.cast(x, F64), "int64"), "int64"),  # int64 -> float64 is lossy
], ids=lambda f: "")
def test_rules_blocked(fn, dtype):
    prog = program(fn, ((2, 3), dtype))
    out = simplified(prog)
    assert prims(out) == prims(prog)
    a = np.array([[1, 0, 3], [4, 5, 6]]).astype(dtype)
    if dtype == F64:
        a[0, 0] = np.inf
    assert_same_values(prog, out, a)


def test_run_time_dims_follow_the_broadcast_convention(rng):
    prog = program(lambda x: x + sg.constant(np.zeros((1, 3))), ((None, 1), F64))
    assert prims(simplified(prog)) == ["add"]  # [?, 1] + [1, 3] is [?, 3]
    prog = program(lambda x, z: x + A.zeros_like(z), ((None, 3), F64), ((None, 3), F64))
    out = simplified(prog)
    assert out.eqns == [] and out.outputs == [out.inputs[0]]
    prog = program(lambda g, z: g + A.zeros_like(z), ((1, 3), F64), ((None, 3), F64))
    assert prims(simplified(prog)) == ["zeros_like", "add"]  # g would be broadcast
    assert_same_values(prog, simplified(prog), np.ones((1, 3)), np.ones((2, 3)))


def test_times_zero_only_where_safe():
    ints = program(lambda x: [x * 0, 0 * x], ((3,), "int32"))
    out = simplified(ints)
    assert prims(out) == ["zeros_like", "zeros_like"]
    assert_same_values(ints, out, np.arange(3, dtype=np.int32))
    floats = program(lambda x: x * 0.0, ((3,), F64))
    assert prims(simplified(floats)) == ["mul"]
    unsafe = eliminate_dead_code(simplify(floats, unsafe=True))
    assert prims(unsafe) == ["zeros_like"]


def test_double_ops():
    prog = program(lambda x, b: [sg.abs(sg.abs(x)), sg.relu(sg.relu(x)),
                                 sg.logical_not(sg.logical_not(b))],
                   ((3,), F64), ((3,), "bool"))
    out = simplified(prog)
    assert prims(out) == ["abs", "relu"] and out.outputs[2] is out.inputs[1]
    assert_same_values(prog, out, np.array([-1.0, np.nan, -np.inf]), np.array([True, False, True]))


def test_transpose_compose(rng):
    prog = program(lambda x: sg.transpose(sg.transpose(x, (1, 2, 0)), (1, 0, 2)),
                   ((2, 3, 4), F64))
    out = simplified(prog)
    (eqn,) = out.eqns
    assert eqn.prim.name == "transpose" and eqn.inputs == (out.inputs[0],)
    assert eqn.params["axes"] == (2, 1, 0)
    assert_same_values(prog, out, rng.standard_normal((2, 3, 4)))
    ident = program(lambda x: sg.transpose(x, (0, 1)), ((2, 3), F64))
    assert simplified(ident).eqns == []


def test_reshape_chain_keeps_the_last(rng):
    prog = program(lambda x: sg.reshape(sg.reshape(sg.reshape(x, (-1,)), (6, 4)), (-1, 2, 3)),
                   ((None, 3), F64))
    prog_static = program(lambda x: sg.reshape(sg.reshape(x, (-1,)), (4, 6)), ((8, 3), F64))
    out = simplified(prog_static)
    (eqn,) = out.eqns
    assert eqn.inputs == (out.inputs[0],) and eqn.params["shape"] == (4, 6)
    assert_same_values(prog_static, out, rng.standard_normal((8, 3)))
    out = simplified(prog)
    assert prims(out) == ["reshape"]
    assert_same_values(prog, out, rng.standard_normal((8, 3)))


def test_casts_and_broadcasts(rng):
    prog = program(lambda x: [sg.cast(sg.cast(x, F64), "float16"), sg.broadcast_to(x, (2, 3)),
                              sg.cast(sg.cast(x, "int64"), F32)],
                   ((2, 3), F32))
    out = simplified(prog)
    assert prims(out) == ["cast", "cast", "cast"]  # f32->f64 is lossless; f32->int64 is not
    assert out.eqns[0].inputs == (out.inputs[0],) and out.outputs[1] is out.inputs[0]
    assert_same_values(prog, out, rng.standard_normal((2, 3)).astype(np.float32) * 1e3)
    assert lossless(np.int32, np.float64) and not lossless(np.int32, np.float32)
    assert lossless(np.uint8, np.int16) and not lossless(np.int8, np.uint64)


def test_rules_run_inside_cond_and_constant_cond_is_inlined(rng):
    def fn(p, x):
        live = sg.cond(p, lambda: sg.tanh(x) * 1.0, lambda: sg.negative(sg.negative(x)))
        fixed = sg.cond(sg.constant(True), lambda: sg.exp(x) + 0.0, lambda: x)
        return [live, fixed]
    prog = program(fn, ((), "bool"), ((3,), F64))
    out = simplified(prog)
    cond = next(e for e in out.eqns if e.prim.name == "cond")
    assert prims(cond.params["true_graph"]) == ["tanh"]
    assert cond.params["false_graph"].eqns == []
    assert sorted(prims(out)) == ["cond", "exp"]
    for p in (True, False):
        assert_same_values(prog, out, np.array(p), rng.standard_normal(3))


def test_simplify_does_not_mutate_its_input():
    prog = program(lambda x: (x * 1.0) + 0.0, ((3,), F64))
    eqns, outputs = list(prog.eqns), list(prog.outputs)
    simplify(prog)
    assert prog.eqns == eqns and prog.outputs == outputs


def test_where_on_a_constant_condition_picks_a_branch(rng):
    def true():
        return sg.constant(np.array(True))

    def false():
        return sg.constant(np.array(False))
    prog = program(lambda x, y: sg.where(true(), x, y), ((2, 3), F64), ((2, 3), F64))
    out = simplified(prog)
    assert out.eqns == [] and out.outputs == [out.inputs[0]]
    prog = program(lambda x: sg.where(false(), x, sg.constant(np.array(0.0))), ((2, 3), F64))
    assert prims(simplified(prog)) == ["broadcast_to"]  # the zeros, without reading x
    a = rng.standard_normal((2, 3))
    a[0, 0] = np.nan
    assert_same_values(prog, simplified(prog), a)
    blocked = [lambda x: sg.where(false(), x, 0),  # a weak scalar branch: no dtype of its own
               lambda x: sg.where(x > 0, x, sg.constant(np.array(0.0)))]
    for fn in blocked:
        prog = program(fn, ((2, 3), F64))
        assert prims(simplified(prog)) == prims(prog)


def test_a_broadcast_constant_counts_as_that_constant(rng):
    def fn(x):
        return x + sg.broadcast_to(sg.constant(np.array(0.0)), (2, 3))
    prog = program(fn, ((2, 3), F64))
    out = simplified(prog)
    assert out.eqns == [] and out.outputs == out.inputs
    assert_same_values(prog, out, rng.standard_normal((2, 3)))
