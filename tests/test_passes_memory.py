"""Memory planning: symbolic sizes, slot reuse, in-place decisions, and a
simulation of every plan that fails if a value is overwritten while needed."""

from __future__ import annotations

import numpy as np
import pytest
from test_passes_util import program, run, tutorial_program

import staticgraph as sg
from staticgraph.passes import (
    Monomial,
    PlanViolation,
    infer_shapes,
    optimize,
    plan_memory,
    simulate_plan,
)

F64 = "float64"


def env_of(graph, *arrays) -> dict:
    env = dict(zip(graph.inputs, arrays))
    env.update({v: info.initial for v, info in graph.variables.items()})
    return env


def assert_plan_is_safe(graph, *arrays):
    plan = plan_memory(graph)
    outs, updates = simulate_plan(plan, env_of(graph, *arrays))
    for got, want in zip(outs + updates, run(graph, *arrays), strict=True):
        np.testing.assert_array_equal(got, want)
    return plan


@pytest.mark.parametrize("optimized", [False, True])
def test_tutorial_step_plan(optimized):
    prog, arrays = tutorial_program(D_in=40, H=30)
    graph = optimize(prog)[0] if optimized else prog
    plan = assert_plan_is_safe(graph, *arrays)
    planned = [v for v in plan.values if v in plan.slot_of]
    assert len(plan.slots) < len(planned) < len(plan.values)
    assert {var.label for var in plan.into_variable.values()} == {"w1", "w2"}
    assert plan.in_place and plan.escapes == graph.outputs
    x_rows = plan.shapes.shape(graph.inputs[0])[0]
    assert plan.shapes.shape(graph.inputs[1])[0] == x_rows  # y's batch dim unified with x's
    assert all(s.size.syms in ((), x_rows.syms) for s in plan.slots)
    assert "slot 0" in plan.describe()


def test_symbolic_shapes():
    def fn(x, w):
        h = sg.matmul(x, w)  # [?, 4]
        flat = sg.reshape(h, (-1,))  # [4 * ?]
        return [sg.reshape(flat, (-1, 2)), sg.transpose(h, (1, 0)), sg.sum(h, axis=0)]
    prog = program(fn, ((None, None), F64), ((None, 4), F64))
    inf = infer_shapes(prog)
    n = inf.shape(prog.inputs[0])[0]
    assert inf.shape(prog.inputs[1])[0] == Monomial(1, ("x0.1",))  # unified with x's dim 1
    assert inf.shape(prog.eqns[1].outputs[0]) == (Monomial(4, n.syms),)
    assert inf.shape(prog.outputs[0]) == (Monomial(2, n.syms), Monomial(2))
    assert inf.shape(prog.outputs[1]) == (Monomial(4), n)
    assert str(Monomial(4, ("x.0",))) == "4*x.0" and Monomial(3).evaluate({}) == 3


def test_views_keep_their_root_alive(rng):
    def fn(x, w):
        a = sg.exp(sg.matmul(x, w))
        t = sg.transpose(a, (1, 0))  # a view of a's buffer
        b = sg.tanh(a) * 2.0  # a's last direct use
        c = sg.matmul(b, w)  # a fresh value that must not take a's slot
        return sg.matmul(t, c)
    prog = program(fn, ((4, 4), F64), ((4, 4), F64))
    plan = assert_plan_is_safe(prog, rng.standard_normal((4, 4)), rng.standard_normal((4, 4)))
    assert len(plan.views) == 1


def test_outputs_escape_and_variables_are_written_in_place_only_when_dead(rng):
    g = sg.Graph()
    with g.as_default():
        x = sg.placeholder((3,), F64, name="x")
        w = sg.Variable(np.ones(3), name="w")
        v = sg.Variable(np.ones(3), name="v")
        new_w = w - 0.1 * x  # w is read afterwards: not in place
        after = sg.sum(w * x)
        new_v = v * 2.0  # v is dead after this: in place
        step = sg.group(sg.assign(w, new_w), sg.assign(v, new_v))
    prog = sg.extract_program(g, [after.var], [x.var], effects=[step.var])
    plan = assert_plan_is_safe(prog, rng.standard_normal(3))
    assert [var.label for var in plan.into_variable.values()] == ["v"]
    assert after.var in plan.escapes and after.var not in plan.slot_of


def test_an_update_viewing_a_planned_buffer_gets_its_own_slot(rng):
    g = sg.Graph()
    with g.as_default():
        x = sg.placeholder((3, 4), F64, name="x")
        grad = sg.Variable(np.zeros((4, 3)), name="grad")
        flat = sg.Variable(np.zeros((3, 4)), name="flat")
        h = sg.exp(x)
        later = sg.tanh(h) * 2.0  # may take h's slot once h is dead
        step = sg.group(sg.assign(grad, sg.transpose(h, (1, 0))),  # views h's buffer
                        sg.assign(flat, sg.transpose(sg.transpose(x, (1, 0)), (1, 0))))
    prog = sg.extract_program(g, [later.var], [x.var], effects=[step.var])
    plan = assert_plan_is_safe(prog, rng.standard_normal((3, 4)))
    grad_value, flat_value = (value for _, value in prog.updates)
    assert grad_value in plan.slot_of and grad_value not in plan.views
    assert plan.views.get(flat_value) is x.var  # a view of an input stays a view


def test_simulation_catches_a_bad_plan(rng):
    prog = program(lambda x: sg.matmul(sg.exp(x), sg.tanh(x)), ((3, 3), F64))
    plan = plan_memory(prog)
    exp_out, tanh_out = prog.eqns[0].outputs[0], prog.eqns[1].outputs[0]
    assert plan.slot_of[exp_out] != plan.slot_of[tanh_out]  # both live at the matmul
    plan.slot_of[tanh_out] = plan.slot_of[exp_out]  # break it
    with pytest.raises(PlanViolation, match="read after its buffer was given"):
        simulate_plan(plan, env_of(prog, rng.standard_normal((3, 3))))


def test_plan_in_place_reuses_dying_inputs(rng):
    prog = program(lambda x: sg.sum(sg.exp(sg.tanh(sg.matmul(x, x)) * 2.0)), ((None, 5), F64))
    plan = assert_plan_is_safe(prog, rng.standard_normal((5, 5)))
    assert len(plan.slots) == 1 and len(plan.in_place) == 3


def test_plan_of_a_cond_program(rng):
    def fn(p, x):
        h = sg.exp(x) * 2.0
        return sg.cond(p, lambda: sg.sum(h * h), lambda: sg.sum(sg.tanh(h))) + sg.sum(h)
    prog = program(fn, ((), "bool"), ((None, 3), F64))
    graph = optimize(prog)[0]
    for p in (True, False):
        assert_plan_is_safe(graph, np.array(p), rng.standard_normal((4, 3)))
