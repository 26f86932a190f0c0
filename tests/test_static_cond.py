"""sg.cond: decided at run time, differentiable through the taken branch.

Forward values and gradients are checked against NumPy references written
by hand, for both branches, with captured variables, nested conds, None
dims, nested structures and second-order gradients.
"""

from __future__ import annotations

import numpy as np
import pytest

import staticgraph as sg


@pytest.fixture
def graph():
    g = sg.Graph("cond")
    with g.as_default():
        yield g


def test_forward_and_gradient_match_numpy(graph, rng):
    x = sg.placeholder((None, 3), "float64", name="x")
    w = sg.Variable(rng.standard_normal((3, 2)), name="w")
    p = sg.placeholder((), "bool", name="p")
    out = sg.cond(p, lambda: sg.sum(sg.tanh(x @ w)), lambda: sg.sum((x @ w) ** 2) * 0.5)
    gx, gw = sg.gradients(out, [x, w])
    a, wv = rng.standard_normal((4, 3)), graph.variables[w.var].initial
    with sg.Session() as sess:
        for pred in (True, False):
            value, dx, dw = sess.run([out, gx, gw], {x: a, p: pred})
            h = a @ wv
            if pred:
                ref, dh = np.tanh(h).sum(), 1 - np.tanh(h) ** 2
            else:
                ref, dh = 0.5 * (h ** 2).sum(), h
            np.testing.assert_allclose(value, ref, rtol=1e-13)
            np.testing.assert_allclose(dx, dh @ wv.T, rtol=1e-13)
            np.testing.assert_allclose(dw, a.T @ dh, rtol=1e-13)


def test_gradient_finite_differences(graph, rng):
    x = sg.placeholder((3,), "float64")
    out = sg.cond(sg.sum(x) > 0, lambda: sg.sum(sg.exp(x) * x), lambda: sg.sum(sg.sin(x))
                  if hasattr(sg, "sin") else sg.sum(sg.sigmoid(x) * 3.0))
    (g,) = sg.gradients(out, [x])
    f = sg.function([x], [out, g])
    for a in (np.array([0.3, 0.5, 0.1]), np.array([-0.3, -0.5, 0.1])):
        value, grad = f(a)
        d = rng.standard_normal(3)
        eps = 1e-6
        numeric = (f(a + eps * d)[0] - f(a - eps * d)[0]) / (2 * eps)
        np.testing.assert_allclose(grad @ d, numeric, rtol=1e-6)


def test_branch_not_taken_gets_zero_gradient(graph):
    x = sg.placeholder((2,), "float64")
    y = sg.placeholder((2,), "float64")
    p = sg.placeholder((), "bool")
    out = sg.cond(p, lambda: sg.sum(x * 3.0), lambda: sg.sum(y * 5.0))
    gx, gy = sg.gradients(out, [x, y])
    with sg.Session() as sess:
        feed = {x: np.ones(2), y: np.ones(2)}
        np.testing.assert_allclose(sess.run([gx, gy], {**feed, p: True}), [[3, 3], [0, 0]])
        np.testing.assert_allclose(sess.run([gx, gy], {**feed, p: False}), [[0, 0], [5, 5]])


def test_nested_structures_and_constants(graph):
    x = sg.placeholder((2,), "float64")
    p = sg.placeholder((), "bool")
    out = sg.cond(p, lambda: {"a": x * 2, "b": (x + 1, 7.0)},
                  lambda: {"a": x, "b": (x * 0, sg.sum(x))})
    assert set(out) == {"a", "b"} and out["b"][1].dtype == np.float64
    with sg.Session() as sess:
        r = sess.run(out, {x: np.array([1.0, 2.0]), p: True})
        np.testing.assert_allclose(r["a"], [2, 4])
        np.testing.assert_allclose(r["b"][0], [2, 3])
        assert r["b"][1] == 7.0
        r = sess.run(out, {x: np.array([1.0, 2.0]), p: False})
        assert r["b"][1] == 3.0


def test_nested_cond_and_second_order(graph):
    x = sg.placeholder((), "float64")

    def inner():
        return sg.cond(x > 1.0, lambda: x ** 3, lambda: x ** 2)
    out = sg.cond(x > 0.0, inner, lambda: -x)
    (g,) = sg.gradients(out, [x])
    (h,) = sg.gradients(g, [x])
    f = sg.function([x], [out, g, h])
    for v, ref in ((2.0, (8.0, 12.0, 12.0)), (0.5, (0.25, 1.0, 2.0)), (-1.0, (1.0, -1.0, 0.0))):
        np.testing.assert_allclose(f(np.float64(v)), ref)


def test_captured_variable_trained_through_cond(graph):
    w = sg.Variable(np.array([1.0, -2.0]), name="w")
    flag = sg.placeholder((), "bool")
    loss = sg.cond(flag, lambda: sg.sum(w * w), lambda: sg.sum(w))
    (gw,) = sg.gradients(loss, [w])
    step = sg.assign_sub(w, 0.25 * gw)
    with sg.Session() as sess:
        sess.run(step, {flag: True})
        np.testing.assert_allclose(sess.get(w), [0.5, -1.0])
        sess.run(step, {flag: False})
        np.testing.assert_allclose(sess.get(w), [0.25, -1.25])


def test_none_dims_join(graph):
    x = sg.placeholder((None, 2), "float64")
    p = sg.placeholder((), "bool")
    out = sg.cond(p, lambda: x * 2, lambda: x[:1] * 0 + sg.sum(x))
    assert out.shape == (None, 2)
    with sg.Session() as sess:
        assert sess.run(out, {x: np.ones((3, 2)), p: True}).shape == (3, 2)
        assert sess.run(out, {x: np.ones((3, 2)), p: False}).shape == (1, 2)


def test_python_predicate_builds_one_branch(graph):
    x = sg.placeholder((2,), "float64")
    out = sg.cond(True, lambda: x + 1, lambda: x - 1)
    assert all(e.prim.name != "cond" for e in graph.eqns)
    with sg.Session() as sess:
        np.testing.assert_allclose(sess.run(out, {x: np.zeros(2)}), [1, 1])


def test_branch_mismatches_are_errors(graph):
    x = sg.placeholder((2,), "float64")
    p = sg.placeholder((), "bool")
    with pytest.raises(sg.ShapeError, match="cond: branches return shapes"):
        sg.cond(p, lambda: x, lambda: sg.sum(x))
    with pytest.raises(sg.DTypeError, match="dtypes"):
        sg.cond(p, lambda: x, lambda: sg.cast(x, "float32"))
    with pytest.raises(sg.GraphError, match="different structures"):
        sg.cond(p, lambda: (x, x), lambda: [x, x])
    with pytest.raises(sg.ShapeError, match="predicate must be a scalar"):
        sg.cond(x > 0, lambda: x, lambda: x)
    with pytest.raises(sg.GraphError, match="assign"):
        w = sg.Variable(np.zeros(2))
        sg.cond(p, lambda: sg.assign(w, x), lambda: x)


def test_value_from_one_branch_used_outside(graph):
    x = sg.placeholder((2,), "float64")
    p = sg.placeholder((), "bool")
    leaked = []
    sg.cond(p, lambda: leaked.append(x * 2) or leaked[0], lambda: x)
    with pytest.raises(sg.GraphError, match="cond branch"):
        leaked[0] + x


def test_cond_text_and_check(graph):
    x = sg.placeholder((2,), "float64", name="x")
    out = sg.cond(sg.sum(x) > 0, lambda: x * 2, lambda: x)
    sg.gradients(sg.sum(out), [x])
    sg.check_graph(graph)
    text = str(graph)
    assert "cond" in text and "true_graph =" in text and "graph true_grad" in text
    assert "subgraph cluster_" in graph.to_dot()
