"""The IR itself: structure, building, text and DOT export, copies, the
interpreter on a bare graph, and the checker that catches broken graphs."""

from __future__ import annotations

import numpy as np
import pytest

import shared_ops as so
import staticgraph as sg
from staticgraph.graph.ir import Eqn, Graph, Var


@pytest.fixture
def graph():
    g = sg.Graph("ir")
    with g.as_default():
        yield g


def _small(graph):
    x = sg.placeholder((None, 3), "float64", name="x")
    w = sg.Variable(np.ones((3, 2)), name="w")
    y = sg.relu(x @ w) * 2.0
    return x, w, y


def test_building_records_flat_ssa(graph):
    x, w, y = _small(graph)
    assert graph.inputs == [x.var] and list(graph.variables) == [w.var]
    assert [e.prim.name for e in graph.eqns] == ["matmul", "relu", "mul"]
    mul = graph.eqns[-1]
    assert mul.inputs[1] == 2.0 and isinstance(mul.inputs[1], float)  # a weak literal
    assert mul.outputs == (y.var,) and y.shape == (None, 2) and y.dtype == np.float64
    assert mul.prim is so.REGISTRY["mul"]  # the shared primitive, not a copy
    assert mul.site[0] == __file__
    assert graph.producers()[y.var] is mul
    assert graph.consumers()[x.var] == [graph.eqns[0]]
    assert list(graph.defined_vars())[:2] == [x.var, w.var]


def test_default_graph_and_unique_names():
    sg.reset_default_graph()
    a = sg.placeholder((1,), name="a")
    assert a.graph is sg.get_default_graph()
    g = sg.Graph("other")
    with g.as_default():
        b, b2 = sg.placeholder((1,), name="b"), sg.placeholder((1,), name="b")
        assert sg.get_default_graph() is g
    assert (b.name, b2.name) == ("b", "b_1")
    assert sg.get_default_graph() is a.graph
    assert sg.placeholder(sg.float64, (2,)).dtype == np.float64  # TF's argument order


def test_symbol_properties(graph):
    x, w, y = _small(graph)
    assert (x.ndim, w.shape, y.T.shape) == (2, (3, 2), (2, None))
    assert repr(x).startswith("<Symbol x: float64[?, 3] at ")
    assert repr(w).startswith("<Variable w") and w.trainable
    assert isinstance(w, sg.Variable) and isinstance(w, sg.Symbol)
    assert y.site.endswith(f"test_static_graph.py:{_small.__code__.co_firstlineno + 3}")
    assert len(sg.placeholder((4, 2))) == 4 and len(list(sg.placeholder((2, 3)))) == 2


def test_text_export(graph):
    x, w, y = _small(graph)
    sg.group(sg.assign(w, w * 0.5))
    text = graph.to_text()
    assert text == str(graph)
    lines = text.splitlines()
    assert lines[0] == "graph ir {" and lines[-1] == "}"
    assert "inputs:    x:float64[?, 3]" in text and "variables: w:float64[3, 2]" in text
    assert any(line.strip().startswith(f"{y.var!r} = mul") and "2.0" in line for line in lines)
    assert "test_static_graph.py:" in text
    assert "group" in text and "assign w" in text


def test_dot_export(graph):
    x, w, y = _small(graph)
    half = w * 0.5
    program = sg.extract_program(graph, [y.var], [x.var], [(w.var, half.var)])
    for g in (graph, program):
        dot = g.to_dot()
        assert dot.startswith("digraph") and dot.rstrip().endswith("}")
        assert dot.count("{") == dot.count("}")
        assert "matmul" in dot and "relu" in dot and "->" in dot
    assert "update" in program.to_dot() and "doublecircle" in program.to_dot()


def test_copy_is_independent(graph):
    x, w, y = _small(graph)
    copy = graph.copy()
    sg.exp(y)
    assert len(copy.eqns) == 3 and len(graph.eqns) == 4
    assert copy.eqns[0] is graph.eqns[0] and copy.inputs == graph.inputs
    sg.check_graph(copy)


def test_eval_graph_on_a_bare_graph(graph):
    x, w, y = _small(graph)
    xv = np.array([[1.0, -2.0, 0.5]])
    (out,) = sg.eval_graph(graph, {x.var: xv, w.var: np.ones((3, 2))}, [y.var])
    np.testing.assert_allclose(out, [[0.0, 0.0]])
    with pytest.raises(sg.GraphError, match="no value"):
        sg.eval_graph(graph, {x.var: xv}, [y.var])


def test_a_rewrite_pass_builds_a_new_checked_graph(graph):
    """The shape of a pass: Graph -> Graph, new Eqns via replace, checked after."""
    x = sg.placeholder((3,), "float64", name="x")
    y = sg.exp(x * 1)
    program = sg.extract_program(graph, [y.var], [x.var])

    def drop_mul_by_one(g: Graph) -> Graph:
        out, alias = g.copy(), {}
        out.eqns = []
        for eqn in g.eqns:
            inputs = tuple(alias.get(v, v) if isinstance(v, Var) else v for v in eqn.inputs)
            if eqn.prim.name == "mul" and inputs[1] == 1:
                alias[eqn.outputs[0]] = inputs[0]
                continue
            out.eqns.append(eqn.replace(inputs=inputs))
        out.outputs = [alias.get(v, v) for v in g.outputs]
        return sg.check_graph(out)

    rewritten = drop_mul_by_one(program)
    assert [e.prim.name for e in rewritten.eqns] == ["exp"] and len(program.eqns) == 2
    runner = sg.make_runner(rewritten)
    np.testing.assert_allclose(runner([np.zeros(3)], {}), [np.ones(3)])


def test_walk_visits_subgraphs(graph):
    x = sg.placeholder((), "float64")
    sg.cond(x > 0, lambda: sg.exp(x), lambda: sg.tanh(x))
    names = [e.prim.name for _, e in graph.walk()]
    assert names == ["greater", "cond", "exp", "tanh"]
    cond = graph.eqns[-1]
    assert [g.name for g in cond.subgraphs()] == ["true", "false"]


def _program(graph):
    x, w, y = _small(graph)
    return sg.extract_program(graph, [y.var], [x.var], [(w.var, graph.eqns[0].inputs[1])])


@pytest.mark.parametrize("breakage, message", [
    ("use_before_def", "used before it is defined"),
    ("double_def", "defined twice"),
    ("wrong_aval", "disagrees with abstract_eval"),
    ("bad_input", "neither a Var nor a Python scalar"),
    ("bad_constant", "holds float32"),
    ("undefined_output", "is not defined"),
    ("update_non_variable", "is not a variable"),
    ("bad_params", "abstract_eval rejects"),
    ("not_an_eqn", "not an equation"),
    ("broken_subgraph", "used before it is defined"),
])
def test_checker_catches_broken_graphs(graph, breakage, message):
    prog = _program(graph)
    sg.check_graph(prog)
    first, last = prog.eqns[0], prog.eqns[-1]
    if breakage == "use_before_def":
        prog.eqns = prog.eqns[::-1]
    elif breakage == "double_def":
        prog.eqns.append(last)
    elif breakage == "wrong_aval":
        prog.eqns[-1] = last.replace(outputs=(Var(so.AbstractArray((5,), np.dtype("f8"))),))
    elif breakage == "bad_input":
        prog.eqns[0] = first.replace(inputs=(first.inputs[0], "w"))
    elif breakage == "bad_constant":
        prog.constants[Var(so.AbstractArray((2,), np.dtype("f8")))] = np.zeros(2, "f4")
    elif breakage == "undefined_output":
        prog.outputs.append(Var(so.AbstractArray((), np.dtype("f8"))))
    elif breakage == "update_non_variable":
        prog.updates.append((prog.inputs[0], prog.inputs[0]))
    elif breakage == "bad_params":
        prog.eqns[0] = first.replace(params={"nonsense": 1})
    elif breakage == "not_an_eqn":
        prog.eqns.append("matmul x w")
    elif breakage == "broken_subgraph":
        with graph.as_default():
            p = sg.placeholder((), "bool")
            sg.cond(p, lambda: sg.exp(p * 1.0), lambda: p * 1.0)
        cond = graph.eqns[-1]
        branch = cond.params["true_graph"]
        branch.eqns = branch.eqns[::-1]
        prog = graph
    with pytest.raises(sg.InvalidGraphError, match=message):
        sg.check_graph(prog)


def test_eqn_and_var_reprs(graph):
    x, w, y = _small(graph)
    eqn = graph.eqns[0]
    assert isinstance(eqn, Eqn) and repr(eqn).startswith("<Eqn %") and "matmul" in repr(eqn)
    assert repr(x.var) == "x:float64[?, 3]" and x.var.label == "x"
    assert "3 eqns" in repr(graph)
