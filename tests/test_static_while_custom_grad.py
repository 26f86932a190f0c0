"""sg.while_loop (run-time trip count, bounded and differentiable),
fori_loop with symbolic bounds, and sg.custom_gradient, on the interpreter
and the numba backend."""

from __future__ import annotations

import numpy as np
import pytest

import staticgraph as sg

BACKENDS = ["interpret", "numba"]


@pytest.fixture
def graph():
    g = sg.Graph()
    with g.as_default():
        yield g


def _sum_of_squares(n, x, **kw):
    return sg.while_loop(lambda i, t: i < n, lambda i, t: (i + 1, t + x[i] * x[i]),
                         [sg.constant(np.int32(0)), sg.constant(0.0, sg.float64)], **kw)


@pytest.mark.parametrize("backend", BACKENDS)
def test_while_loop_runs_a_run_time_trip_count(graph, backend):
    n = sg.placeholder(sg.int32, ())
    x = sg.placeholder(sg.float64, (None,))
    i, total = _sum_of_squares(n, x)
    doubled = sg.while_loop(lambda v: sg.reduce_sum(v) < 100.0, lambda v: v * 2.0, [x])
    data = np.arange(1.0, 6.0)
    with sg.Session(backend=backend) as sess:
        for trips in (0, 1, 3, 5):
            iv, tv = sess.run([i, total], {n: trips, x: data})
            assert iv == trips and tv == pytest.approx((data[:trips] ** 2).sum())
        np.testing.assert_array_equal(sess.run(doubled, {x: data}), data * 8)
    assert isinstance(doubled, sg.Symbol)  # one loop variable comes back bare


@pytest.mark.parametrize("backend", BACKENDS)
def test_bounded_while_loop_is_differentiable(graph, backend):
    n = sg.placeholder(sg.int32, ())
    x = sg.placeholder(sg.float64, (None,))
    i, total = _sum_of_squares(n, x, maximum_iterations=4)
    (gx,) = sg.gradients(total, [x])
    data = np.arange(1.0, 7.0)
    with sg.Session(backend=backend) as sess:
        for trips in (0, 2, 6):
            iv, tv, gv = sess.run([i, total, gx], {n: trips, x: data})
            stop = min(trips, 4)
            assert iv == stop and tv == pytest.approx((data[:stop] ** 2).sum())
            np.testing.assert_allclose(gv, np.where(np.arange(6) < stop, 2 * data, 0.0))


def test_bounded_loop_matches_finite_differences(graph):
    x = sg.placeholder(sg.float64, (3,))
    w = sg.Variable(np.array([0.5, -0.2, 0.1]), name="w")
    _, y = sg.while_loop(lambda k, v: sg.reduce_sum(v * v) < 50.0,
                         lambda k, v: (k + 1, sg.tanh(v) * 3.0 + w * v),
                         [sg.constant(0), x], maximum_iterations=5)
    loss = sg.reduce_sum(y * y)
    gx, gw = sg.gradients(loss, [x, w])
    sess = sg.Session()
    x0 = np.array([0.3, -0.4, 0.9])
    gxv, gwv = sess.run([gx, gw], {x: x0})

    def f(xv):
        return sess.run(loss, {x: xv})
    eps = 1e-6
    fd = np.array([(f(x0 + eps * e) - f(x0 - eps * e)) / (2 * eps) for e in np.eye(3)])
    np.testing.assert_allclose(gxv, fd, rtol=1e-5)
    assert gwv.shape == (3,) and np.isfinite(gwv).all()


def test_while_loop_errors(graph):
    n = sg.placeholder(sg.int32, ())
    x = sg.placeholder(sg.float64, (None,))
    _, total = _sum_of_squares(n, x)
    line = total.var.site[1]
    with pytest.raises(sg.GradientError,
                       match=rf"no gradient; pass maximum_iterations.*:{line}\)"):
        sg.gradients(total, [x])
    with pytest.raises(sg.ShapeError, match="body returns shape"):
        sg.while_loop(lambda v: sg.reduce_sum(v) < 1.0,
                      lambda v: sg.concat([v, v], 0), [sg.constant(np.ones(2))])
    grown = sg.while_loop(lambda v: sg.reduce_sum(v) < 10.0, lambda v: sg.concat([v, v], 0),
                          [sg.constant(np.ones(2))], shape_invariants=[(None,)])
    assert sg.Session().run(grown).shape == (16,)
    with pytest.raises(sg.DTypeError, match="cond must return one boolean scalar"):
        sg.while_loop(lambda v: v, lambda v: v, [sg.constant(np.ones(2))])
    with pytest.raises(sg.DTypeError, match="body returns dtype"):
        sg.while_loop(lambda v: v < 3, lambda v: sg.cast(v, sg.float32), [sg.constant(0)])
    with pytest.raises(sg.ShapeError, match="maximum_iterations must be"):
        sg.while_loop(lambda v: v < 3, lambda v: v + 1, [sg.constant(0)],
                      maximum_iterations=-1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fori_loop_with_symbolic_bounds(graph, backend):
    lo, hi = sg.placeholder(sg.int64, ()), sg.placeholder(sg.int64, ())
    out = sg.fori_loop(lo, hi, lambda i, v: v + sg.cast(i, sg.float64), sg.constant(0.0,
                                                                                    sg.float64))
    static = sg.fori_loop(1, 4, lambda i, v: v * 2.0, sg.constant(1.0))
    with sg.Session(backend=backend) as sess:
        assert sess.run(out, {lo: 2, hi: 6}) == 2 + 3 + 4 + 5
        assert sess.run(out, {lo: 5, hi: 1}) == 0.0
        assert sess.run(static) == 8.0
    with pytest.raises(sg.DTypeError, match="bounds must be integer scalars"):
        sg.fori_loop(0, sg.placeholder(sg.float32, ()), lambda i, v: v, 0.0)


@sg.custom_gradient
def clipped_identity(x):
    def grad(dy):
        return sg.clip_by_value(dy, -1.0, 1.0)
    return sg.identity(x), grad


@sg.custom_gradient
def my_relu(x):
    y = sg.maximum(x, 0.0)

    def grad(dy):
        return dy * sg.cast(x > 0, dy.dtype)
    return y, grad


@pytest.mark.parametrize("backend", BACKENDS)
def test_custom_gradient_replaces_the_gradient(graph, backend):
    x = sg.placeholder(sg.float64, (None,))
    y = clipped_identity(x * 5.0)
    r = my_relu(x)
    (gy,) = sg.gradients(sg.reduce_sum(y * y), [x])
    (gr,) = sg.gradients(sg.reduce_sum(r * 3.0), [x])
    data = np.array([-0.5, 0.01, 0.3])
    with sg.Session(backend=backend) as sess:
        yv, gyv, rv, grv = sess.run([y, gy, r, gr], {x: data})
    np.testing.assert_allclose(yv, data * 5)
    np.testing.assert_allclose(gyv, np.clip(2 * data * 5, -1, 1) * 5)
    np.testing.assert_allclose(rv, np.maximum(data, 0))
    np.testing.assert_allclose(grv, np.where(data > 0, 3.0, 0.0))


def test_custom_gradient_with_variables_and_several_outputs(graph):
    w = sg.Variable(np.float64(3.0), name="w")

    @sg.custom_gradient
    def scaled(x):
        def grad(dy, variables=None):
            assert [v.name for v in variables] == ["w"]
            return dy * w, [sg.reduce_sum(dy * x) * 10.0]
        return x * w, grad

    @sg.custom_gradient
    def sum_and_product(a, b):
        def grad(d_sum, d_prod):
            return d_sum + d_prod * b, d_sum + d_prod * a
        return (a + b, a * b), grad
    x = sg.constant(np.array([1.0, 2.0]))
    gx, gw = sg.gradients(sg.reduce_sum(scaled(x)), [x, w])
    s, p = sum_and_product(x, x * 2.0)
    (gsp,) = sg.gradients(sg.reduce_sum(p), [x])
    sess = sg.Session()
    gxv, gwv, gspv = sess.run([gx, gw, gsp])
    np.testing.assert_allclose(gxv, [3.0, 3.0])
    assert gwv == pytest.approx(30.0)
    np.testing.assert_allclose(gspv, 4 * np.array([1.0, 2.0]))  # d(2x^2)/dx through both


def test_custom_gradient_errors(graph):
    w = sg.Variable(np.float64(2.0), name="w")

    @sg.custom_gradient
    def reads_w(x):
        return x * w, lambda dy: dy

    @sg.custom_gradient
    def no_grad_fn(x):
        return x * 2.0

    @sg.custom_gradient
    def wrong_count(x, y):
        return x + y, lambda dy: dy
    x = sg.constant(np.ones(2))
    with pytest.raises(sg.GradientError, match="must accept a keyword argument 'variables'"):
        reads_w(x)
    with pytest.raises(sg.GradientError, match="must return \\(outputs, grad_fn\\)"):
        no_grad_fn(x)
    with pytest.raises(sg.GradientError, match="returned 1 input gradients, expected 2"):
        sg.gradients(sg.reduce_sum(wrong_count(x, x * 3.0)), [x])
