"""sg.gradients: symbolic gradients built from the shared VJP rules.

Composite models against finite differences and dyngraph; gradients of
gradients (a Hessian-vector product); stop_gradient; unconnected inputs;
grad_ys; several ys; gradients w.r.t. intermediate symbols.
"""

from __future__ import annotations

import numpy as np
import pytest

import dyngraph as dg
import staticgraph as sg


@pytest.fixture
def graph():
    g = sg.Graph("grads")
    with g.as_default():
        yield g


def _mlp_loss(x, w1, b1, w2, labels, lib):
    """A small classifier: softmax cross-entropy, mean over a batch."""
    h = lib.tanh(lib.matmul(x, w1) + b1)
    logp = lib.log_softmax(lib.matmul(h, w2), -1)
    return -lib.mean(lib.sum(logp * labels, 1))


def test_mlp_gradients_match_dyngraph_and_finite_differences(graph, rng):
    shapes = {"w1": (4, 5), "b1": (5,), "w2": (5, 3)}
    values = {k: rng.standard_normal(s) for k, s in shapes.items()}
    xv = rng.standard_normal((6, 4))
    yv = np.eye(3)[rng.integers(0, 3, 6)]
    x = sg.placeholder((None, 4), "float64")
    labels = sg.placeholder((None, 3), "float64")
    params = {k: sg.Variable(v, name=k) for k, v in values.items()}
    loss = _mlp_loss(x, params["w1"], params["b1"], params["w2"], labels, sg)
    grads = sg.gradients(loss, list(params.values()))
    f = sg.function([x, labels], [loss, grads])
    value, gvals = f(xv, yv)

    tensors = {k: dg.tensor(v, requires_grad=True) for k, v in values.items()}
    dloss = _mlp_loss(dg.tensor(xv), tensors["w1"], tensors["b1"], tensors["w2"],
                      dg.tensor(yv), dg)
    dloss.backward()
    np.testing.assert_allclose(value, dloss.item(), rtol=1e-14)
    for g, t in zip(gvals, tensors.values()):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12, atol=1e-14)

    def numeric_loss(vals):
        h = np.tanh(xv @ vals["w1"] + vals["b1"])
        z = h @ vals["w2"]
        logp = z - z.max(1, keepdims=True)
        logp -= np.log(np.exp(logp).sum(1, keepdims=True))
        return -np.mean(np.sum(logp * yv, 1))
    eps = 1e-6
    for (k, v), g in zip(values.items(), gvals):
        d = rng.standard_normal(v.shape)
        plus = numeric_loss({**values, k: v + eps * d})
        minus = numeric_loss({**values, k: v - eps * d})
        np.testing.assert_allclose(np.sum(g * d), (plus - minus) / (2 * eps), rtol=1e-6)


def test_hessian_vector_product(graph, rng):
    """d/dx <grad f(x), v> = H v, for f(x) = sum(tanh(A x)**2) + 0.5 * |x|^4."""
    a = rng.standard_normal((5, 3))
    x = sg.placeholder((3,), "float64")
    v = sg.placeholder((3,), "float64")
    f = sg.sum(sg.tanh(sg.matmul(a, x)) ** 2) + 0.5 * sg.sum(x * x) ** 2
    (g,) = sg.gradients(f, [x])
    (hv,) = sg.gradients(sg.sum(g * v), [x])
    run = sg.function([x, v], [g, hv])
    xv, vv = rng.standard_normal(3), rng.standard_normal(3)
    gval, hval = run(xv, vv)
    t = np.tanh(a @ xv)
    ref_g = a.T @ (2 * t * (1 - t ** 2)) + 2 * (xv @ xv) * xv
    hess = a.T @ np.diag(2 * (1 - t ** 2) * (1 - 3 * t ** 2)) @ a
    hess += 2 * (xv @ xv) * np.eye(3) + 4 * np.outer(xv, xv)
    np.testing.assert_allclose(gval, ref_g, rtol=1e-12)
    np.testing.assert_allclose(hval, hess @ vv, rtol=1e-12)
    # and against dyngraph's create_graph=True
    xt = dg.tensor(xv, requires_grad=True)
    ft = (dg.tanh(dg.tensor(a) @ xt) ** 2).sum() + 0.5 * (xt * xt).sum() ** 2
    (gt,) = dg.grad(ft, xt, create_graph=True)
    (gt * dg.tensor(vv)).sum().backward()
    np.testing.assert_allclose(hval, xt.grad.numpy(), rtol=1e-12)


def test_stop_gradient_and_unconnected(graph):
    x = sg.placeholder((2,), "float64")
    y = sg.placeholder((2,), "float64")
    z = sg.sum(x * sg.stop_gradient(x * 3.0))
    gx, gy = sg.gradients(z, [x, y])
    assert gy is None
    with sg.Session() as sess:
        np.testing.assert_allclose(sess.run(gx, {x: np.array([1.0, 2.0])}), [3.0, 6.0])
    (none,) = sg.gradients(sg.sum(sg.stop_gradient(x)), [x])
    assert none is None


def test_grad_ys_several_ys_and_intermediates(graph):
    x = sg.placeholder((3,), "float64")
    h = x * x
    y1, y2 = sg.sum(h), h * 2.0
    gx, gh = sg.gradients([y1, y2], [x, h], grad_ys=[2.0, np.array([1.0, 0.0, -1.0])])
    with sg.Session() as sess:
        xv = np.array([1.0, 2.0, 3.0])
        dgx, dgh = sess.run([gx, gh], {x: xv})
    np.testing.assert_allclose(dgh, 2.0 + 2 * np.array([1.0, 0.0, -1.0]))
    np.testing.assert_allclose(dgx, dgh * 2 * xv)


def test_gradient_of_non_scalar_defaults_to_ones(graph):
    x = sg.placeholder((None, 2), "float64")
    (g,) = sg.gradients(x * 3.0, [x])
    with sg.Session() as sess:
        np.testing.assert_allclose(sess.run(g, {x: np.zeros((4, 2))}), np.full((4, 2), 3.0))


def test_gradients_through_shape_ops_with_none_dims(graph, rng):
    x = sg.placeholder((None, 2, 3), "float64")
    y = sg.reshape(sg.transpose(x, (0, 2, 1)), (-1, 2))
    loss = sg.mean(sg.softmax(y) * sg.concat([y, y], 1)[:, 1:3]) + sg.max(y)
    (g,) = sg.gradients(loss, [x])
    f = sg.function([x], [loss, g])
    xv = rng.standard_normal((4, 2, 3))
    value, grad = f(xv)
    d, eps = rng.standard_normal(xv.shape), 1e-6
    numeric = (f(xv + eps * d)[0] - f(xv - eps * d)[0]) / (2 * eps)
    np.testing.assert_allclose(np.sum(grad * d), numeric, rtol=1e-6)


def test_gradient_nodes_remember_the_gradients_line(graph):
    x = sg.placeholder((2,), "float64")
    y = sg.sum(sg.exp(x))
    before = len(graph.eqns)
    sg.gradients(y, [x])
    sites = {e.site[1] for e in graph.eqns[before:]}
    assert len(sites) == 1 and sites.pop() == test_gradient_nodes_remember_the_gradients_line \
        .__code__.co_firstlineno + 4
