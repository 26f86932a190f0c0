"""Bad inputs while building a staticgraph (docs/errors.md, section staticgraph).

Each test makes one bad build call on one line of this file and checks the
documented type, the op's name and that line in the message. Then it builds
a good op in the same graph and runs it: the failure left no half-built node
and the graph still runs.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from bad_inputs_util import documents

import shared_ops as so
import staticgraph as sg
from staticgraph.graph.ir import Var

FILE = os.path.basename(__file__)
F64 = "float64"


def expect(error: type, fn, *parts: str, line: bool = False) -> str:
    """fn() raises `error` whose message holds `parts` (and fn's line of this file)."""
    with pytest.raises(error) as info:
        fn()
    msg = str(info.value)
    if line:
        parts += (f"{FILE}:{fn.__code__.co_firstlineno}",)
    for part in parts:
        assert part in msg, (part, msg)
    return msg


@pytest.fixture
def graph():
    g = sg.Graph("build")
    with g.as_default():
        yield g


def good_step(graph, eqns_before: int | None = None) -> None:
    """No half-built node; a good op in the same graph runs and is right."""
    if eqns_before is not None:
        assert len(graph.eqns) == eqns_before, "a failed build left a node in the graph"
    with graph.as_default():
        p = sg.placeholder((None, 2), F64)
        y = sg.reduce_sum(p * 3.0)
    with sg.Session(graph) as sess:
        assert sess.run(y, {p: np.ones((2, 2))}) == 12.0


# ---- ShapeError / IndexingError / DTypeError while building --------------------------

@documents("staticgraph", "operands do not fit an op")
def test_operands_that_do_not_fit(graph):
    x, w = sg.placeholder((None, 3), F64), sg.Variable(np.zeros((4, 2)))
    n = len(graph.eqns)
    expect(sg.ShapeError, lambda: sg.matmul(x, w), "matmul:", "float64[?, 3]", line=True)
    good_step(graph, n)


@documents("staticgraph", "`assign` of a value whose shape does not fit the variable",
           "`assign` of a value of another dtype")
def test_assign_of_a_value_that_does_not_fit(graph):
    w = sg.Variable(np.zeros((4, 2)), name="w")
    n = len(graph.eqns)
    expect(sg.ShapeError, lambda: sg.assign(w, sg.placeholder((None, 3), F64)), "assign:",
           line=True)
    expect(sg.DTypeError, lambda: sg.assign(w, sg.placeholder((4, 2), "float32")), "sg.cast",
           line=True)
    good_step(graph, n)
    with sg.Session(graph) as sess:
        np.testing.assert_array_equal(sess.get(w), np.zeros((4, 2)))


@documents("staticgraph", "`cond` branches return different shapes / dtypes")
def test_cond_branches_of_different_shapes_or_dtypes(graph):
    x = sg.placeholder((3,), F64)
    pred = sg.reduce_sum(x) > 0
    n = len(graph.eqns)
    expect(sg.ShapeError, lambda: sg.cond(pred, lambda: x, lambda: sg.reduce_sum(x)), "cond:",
           "(3,) and ()", line=True)
    expect(sg.DTypeError, lambda: sg.cond(pred, lambda: x, lambda: sg.cast(x, "float32")),
           "dtypes float64 and float32", line=True)
    good_step(graph, n)


@documents("staticgraph", "`cond` predicate that is not a scalar")
def test_cond_predicate_that_is_not_a_scalar(graph):
    x = sg.placeholder((3,), F64)
    expect(sg.ShapeError, lambda: sg.cond(x > 0, lambda: x, lambda: -x), "cond:", "scalar",
           line=True)
    good_step(graph)


@documents("staticgraph", "`placeholder` without a shape")
def test_placeholder_without_a_shape(graph):
    expect(sg.ShapeError, sg.placeholder, "placeholder:", "None")
    expect(sg.ShapeError, lambda: sg.placeholder((-1, 3)), "bad dim -1")
    expect(sg.DTypeError, lambda: sg.placeholder((3,), "U3"), "unsupported dtype")
    assert graph.inputs == []
    good_step(graph)


@documents("staticgraph", "`gradients` of an integer output")
def test_gradients_of_an_integer_output(graph):
    i = sg.placeholder((3,), "int64")
    expect(sg.DTypeError, lambda: sg.gradients(sg.reduce_sum(i), [i]), "floating point")
    good_step(graph)


@documents("staticgraph", "a constant of a non-numeric dtype")
def test_constant_of_a_non_numeric_dtype(graph):
    x = sg.placeholder((3,), F64)
    n = len(graph.eqns)
    expect(sg.DTypeError, lambda: x + np.array(["a", "b", "c"]), "add:", "<U1", line=True)
    expect(sg.DTypeError, lambda: sg.constant(["a"]), "constant:")
    expect(sg.DTypeError, lambda: sg.Variable("text"), "Variable:")
    good_step(graph, n)


# ---- GraphError while building -----------------------------------------------------

@documents("staticgraph", "an op whose operands come from two graphs")
def test_operands_from_two_graphs(graph):
    other = sg.Graph("other")
    with other.as_default():
        a = sg.placeholder((3,), F64)
    b = sg.placeholder((3,), F64)
    expect(sg.GraphError, lambda: a + b, "add:", "different graphs", line=True)
    good_step(graph)


@documents("staticgraph", "a value made inside a `cond` branch used outside it")
def test_value_leaking_out_of_a_cond_branch(graph):
    x = sg.placeholder((), F64)
    leaked = []
    sg.cond(x > 0, lambda: leaked.append(x * 2) or x, lambda: x)
    expect(sg.GraphError, lambda: leaked[0] + 1.0, "add:", "inside a sg.cond branch", line=True)
    good_step(graph)


@documents("staticgraph", "`assign` to something that is not a Variable")
def test_assign_to_a_placeholder(graph):
    x = sg.placeholder((3,), F64)
    expect(sg.GraphError, lambda: sg.assign(x, x * 2), "must be a sg.Variable", line=True)
    good_step(graph)


@documents("staticgraph", "`assign`/`group`, `Variable` or `placeholder` inside a `cond` "
           "branch")
def test_effects_and_state_inside_a_cond_branch(graph):
    w = sg.Variable(np.zeros(3), name="w")
    p = sg.placeholder((), "bool")
    expect(sg.GraphError, lambda: sg.cond(p, lambda: sg.assign(w, w + 1), lambda: w),
           "assign:", "not supported inside", line=True)
    expect(sg.GraphError, lambda: sg.cond(p, lambda: sg.Variable(1.0), lambda: w), "Variable")
    expect(sg.GraphError, lambda: sg.cond(p, lambda: sg.placeholder(()), lambda: w),
           "placeholder")
    good_step(graph)


@documents("staticgraph", "`cond` branches return different structures")
def test_cond_branches_of_different_structures(graph):
    x = sg.placeholder((), F64)
    expect(sg.GraphError, lambda: sg.cond(x > 0, lambda: (x, x), lambda: [x, x]),
           "different structures", line=True)
    good_step(graph)


@documents("staticgraph", "a Variable initialised from a symbol")
def test_variable_initialised_from_a_symbol(graph):
    x = sg.placeholder((3,), F64)
    expect(sg.GraphError, lambda: sg.Variable(x * 2), "initial_value", "concrete array")
    assert not graph.variables
    good_step(graph)


# ---- SymbolicValueError --------------------------------------------------------------

@documents("staticgraph", "`if sym:` / `bool(sym)`",
           "`np.asarray(sym)`",
           "`len(sym)` when the first dim is unknown")
def test_symbols_used_as_values(graph):
    x = sg.placeholder((None, 2), F64, name="x")
    expect(sg.SymbolicValueError, lambda: bool(x.sum() > 0), "Python bool", "sg.cond")
    expect(sg.SymbolicValueError, lambda: np.asarray(x), "symbol x", "sess.run")
    expect(sg.SymbolicValueError, lambda: x[x], "must hold integers")
    expect(TypeError, lambda: len(x), "first dim is not known")
    assert len(sg.placeholder((4, 2))) == 4
    good_step(graph)


# ---- GradientError -------------------------------------------------------------------

@documents("staticgraph", "`gradients` of something that is not a symbol",
           "`grad_ys` of another length than `ys`")
def test_gradients_misuse(graph):
    x = sg.placeholder((3,), F64)
    y = sg.reduce_sum(x * x)
    expect(sg.GradientError, lambda: sg.gradients(y, [np.ones(3)]), "must be symbols",
           "ndarray")
    expect(sg.GradientError, lambda: sg.gradients([y, y], [x], grad_ys=[1.0]),
           "1 grad_ys for 2 ys")
    (g,) = sg.gradients(y, [x])
    with sg.Session(graph) as sess:
        np.testing.assert_allclose(sess.run(g, {x: np.arange(3.0)}), 2 * np.arange(3.0))


# ---- scan --------------------------------------------------------------------------------

@documents("staticgraph", "a `scan` step whose result differs from the accumulator in "
           "shape, dtype or structure", "`scan` over a value with no leading axis")
def test_scan_body_that_does_not_keep_the_accumulator(graph):
    xs, h0 = sg.placeholder((None, 2), F64), sg.placeholder((2,), F64)
    n = len(graph.eqns)
    expect(sg.ShapeError, lambda: sg.scan(lambda h, x: sg.reduce_sum(h), xs, initializer=h0),
           "scan:", "float64[2]", line=True)
    expect(sg.ShapeError, lambda: sg.scan(lambda h, x: sg.cast(h, "float32"), xs, h0),
           "float32[2]", line=True)
    expect(sg.ShapeError, lambda: sg.scan(lambda h, x: (h, h), xs, initializer=h0),
           "accumulator", line=True)
    expect(sg.ShapeError, lambda: sg.scan(lambda h, x: h + x, h0[0], initializer=h0[0]),
           "leading axis", line=True)
    assert len(graph.eqns) == n + 2  # only the two h0[0] getitems
    ys = sg.scan(lambda h, x: h + x, xs, initializer=h0)
    with sg.Session(graph) as sess:
        np.testing.assert_allclose(sess.run(ys, {xs: np.ones((3, 2)), h0: np.zeros(2)}),
                                   [[1, 1], [2, 2], [3, 3]])


# ---- InvalidGraphError --------------------------------------------------------------------

def _program(graph):
    x = sg.placeholder((None, 2), F64, name="x")
    w = sg.Variable(np.ones((2, 2)), name="w")
    y = sg.reduce_sum(sg.relu(sg.matmul(x, w)))
    return sg.extract_program(graph, [y.var], [x.var], [(w.var, w.var)])


def _aval(*shape):
    return so.AbstractArray(shape, np.dtype(F64))


@documents("staticgraph", "a Var used before it is defined", "a Var defined twice",
           "an output aval that disagrees with the primitive's `abstract_eval`",
           "an input that is neither a Var nor a Python scalar, bad params",
           "a constant or initial value that does not match its aval",
           "outputs or updates that refer to undefined values, update targets that are not "
           "variables")
@pytest.mark.parametrize("breakage, message", [
    ("reverse", "used before it is defined"), ("twice", "defined twice"),
    ("aval", "disagrees with abstract_eval"), ("literal", "neither a Var"),
    ("params", "abstract_eval rejects"), ("constant", "holds float32"),
    ("output", "is not defined"), ("update", "is not a variable")])
def test_check_graph_names_the_broken_equation(graph, breakage, message):
    prog = _program(graph)
    first, last = prog.eqns[0], prog.eqns[-1]
    broken = prog.copy()
    if breakage == "reverse":
        broken.eqns = broken.eqns[::-1]
    elif breakage == "twice":
        broken.eqns.append(last)
    elif breakage == "aval":
        broken.eqns[-1] = last.replace(outputs=(Var(_aval(5)),))
    elif breakage == "literal":
        broken.eqns[0] = first.replace(inputs=(first.inputs[0], "w"))
    elif breakage == "params":
        broken.eqns[0] = first.replace(params={"nonsense": 1})
    elif breakage == "constant":
        broken.constants[Var(_aval(2))] = np.zeros(2, "float32")
    elif breakage == "output":
        broken.outputs.append(Var(_aval()))
    else:
        broken.updates.append((prog.inputs[0], prog.inputs[0]))
    msg = expect(sg.InvalidGraphError, lambda: sg.check_graph(broken), "check_graph:", message)
    assert isinstance(sg.InvalidGraphError("x"), sg.GraphError)
    if breakage in ("reverse", "aval", "literal", "params"):
        assert "eqn #" in msg
    sg.check_graph(prog)  # the original program is untouched and still valid
    good_step(graph)
