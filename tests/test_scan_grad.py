"""Gradients through sg.scan (a reverse scan, BPTT) checked against central
finite differences in float64: w.r.t. elems, initializer and captured symbols,
for lengths 0, 1 and several, reverse, nested structures, scan inside scan,
second order; and what the backward pass saves."""

from __future__ import annotations

import numpy as np
import pytest

import staticgraph as sg


@pytest.fixture
def graph():
    g = sg.Graph("scan_grad")
    with g.as_default():
        yield g


def scans(graph: sg.Graph) -> list:
    return [e for e in graph.eqns if e.prim is sg.scan_p]


def fd_check(inputs: list, loss, values: list, rng, rtol: float = 1e-6) -> list:
    """Compare sg.gradients of `loss` w.r.t. `inputs` with central differences."""
    grads = sg.gradients(loss, inputs)
    f = sg.function(inputs, [loss] + [g for g in grads if g is not None])
    analytic = f(*values)[1:]
    eps = 1e-6
    for i, g in enumerate(analytic):
        d = rng.standard_normal(np.shape(values[i]))
        plus = [v + eps * d if k == i else v for k, v in enumerate(values)]
        minus = [v - eps * d if k == i else v for k, v in enumerate(values)]
        numeric = (f(*plus)[0] - f(*minus)[0]) / (2 * eps)
        np.testing.assert_allclose(np.sum(g * d), numeric, rtol=rtol, atol=1e-9)
    return analytic


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("length", [1, 2, 6])
def test_gradients_wrt_elems_initializer_and_captured(graph, rng, length, reverse):
    xs = sg.placeholder((None, 3), "float64", name="xs")
    h0 = sg.placeholder((3,), "float64", name="h0")
    w = sg.placeholder((3, 3), "float64", name="w")
    b = sg.placeholder((3,), "float64", name="b")
    hs = sg.scan(lambda h, x: sg.tanh(h @ w + x * b), xs, initializer=h0, reverse=reverse)
    loss = sg.sum(hs * hs * np.arange(1.0, 4.0))
    values = [rng.standard_normal((length, 3)), rng.standard_normal(3),
              rng.standard_normal((3, 3)) * 0.5, rng.standard_normal(3)]
    grads = fd_check([xs, h0, w, b], loss, values, rng)
    assert [g.shape for g in grads] == [(length, 3), (3,), (3, 3), (3,)]


def test_zero_length_gradients_are_zeros_of_the_right_shape(graph):
    xs = sg.placeholder((None, 2), "float64")
    h0 = sg.placeholder((2,), "float64")
    w = sg.placeholder((2, 2), "float64")
    hs = sg.scan(lambda h, x: sg.tanh(h @ w + x), xs, initializer=h0)
    grads = sg.gradients(sg.sum(hs), [xs, h0, w])
    gx, gh, gw = sg.function([xs, h0, w], grads)(np.zeros((0, 2)), np.ones(2), np.eye(2))
    assert gx.shape == (0, 2)
    np.testing.assert_array_equal(gh, 0)
    np.testing.assert_array_equal(gw, 0)


def test_no_initializer_gradient(graph, rng):
    xs = sg.placeholder((None, 2), "float64")
    w = sg.placeholder((2,), "float64")
    for reverse in (False, True):
        out = sg.scan(lambda acc, x: sg.tanh(acc * w) + x, xs, reverse=reverse)
        fd_check([xs, w], sg.sum(out * out), [rng.standard_normal((4, 2)),
                                               rng.standard_normal(2)], rng)


def test_nested_structures_gradient(graph, rng):
    xs = {"a": sg.placeholder((None, 2), "float64"), "b": sg.placeholder((None,), "float64")}
    h0 = sg.placeholder((2,), "float64")
    w = sg.placeholder((2, 2), "float64")

    def step(state, x):
        h, c = state
        c = c * sg.sigmoid(x["b"]) + sg.tanh(h @ w + x["a"])
        return (sg.tanh(c) * 0.9, c)
    hs, cs = sg.scan(step, xs, initializer=(h0, sg.zeros_like(h0)))
    loss = sg.sum(hs * hs) + sg.sum(cs[-1])
    values = [rng.standard_normal((5, 2)), rng.standard_normal(5), rng.standard_normal(2),
              rng.standard_normal((2, 2))]
    fd_check([xs["a"], xs["b"], h0, w], loss, values, rng)


def test_variables_receive_gradients(graph, rng):
    w = sg.Variable(rng.standard_normal(3), name="w")
    xs = sg.placeholder((None, 3), "float64")
    hs = sg.scan(lambda h, x: h * w + x, xs, initializer=np.zeros(3))
    (gw,) = sg.gradients(sg.sum(hs), [w])
    a, wv = rng.standard_normal((3, 3)), graph.variables[w.var].initial
    # hs = [x0, x0 w + x1, x0 w^2 + x1 w + x2]
    expected = a[0] + (2 * a[0] * wv + a[1])
    with sg.Session() as sess:
        np.testing.assert_allclose(sess.run(gw, {xs: a}), expected, rtol=1e-13)


def test_scan_inside_scan_gradient(graph, rng):
    xs = sg.placeholder((None, None, 2), "float64")
    w = sg.placeholder((2,), "float64")
    h0 = sg.placeholder((2,), "float64")

    def outer(acc, row):
        inner = sg.scan(lambda a, x: sg.tanh(a * w + x), row, initializer=acc)
        return inner[-1] * 0.5 + sg.sum(inner, axis=0) * 0.1
    out = sg.scan(outer, xs, initializer=h0)
    loss = sg.sum(out * out)
    fd_check([xs, w, h0], loss, [rng.standard_normal((3, 4, 2)), rng.standard_normal(2),
                                 rng.standard_normal(2)], rng)


def test_second_order_hessian_vector_product(graph, rng):
    xs = sg.placeholder((None, 2), "float64")
    w = sg.placeholder((2, 2), "float64")
    v = sg.placeholder((2, 2), "float64")
    hs = sg.scan(lambda h, x: sg.tanh(h @ w + x), xs, initializer=np.zeros(2))
    (gw,) = sg.gradients(sg.sum(hs * hs), [w])
    (hv,) = sg.gradients(sg.sum(gw * v), [w])
    f = sg.function([xs, w, v], [gw, hv])
    a, wv, vv = rng.standard_normal((5, 2)), rng.standard_normal((2, 2)) * 0.5, \
        rng.standard_normal((2, 2))
    eps = 1e-6
    numeric = (f(a, wv + eps * vv, vv)[0] - f(a, wv - eps * vv, vv)[0]) / (2 * eps)
    np.testing.assert_allclose(f(a, wv, vv)[1], numeric, rtol=1e-6, atol=1e-9)


def test_backward_saves_only_the_carries(graph):
    xs = sg.placeholder((None, 4), "float64")
    w = sg.placeholder((4, 4), "float64")
    hs = sg.scan(lambda h, x: sg.tanh(sg.sigmoid(h @ w) + x), xs, initializer=np.zeros(4))
    sg.gradients(sg.sum(hs), [w])
    forward, delay, backward = scans(graph)
    # the carries entering each step are the forward outputs delayed one step
    assert delay.inputs[1] is forward.outputs[1] and not delay.params["body"].eqns
    p = backward.params
    assert p["reverse"] and (p["num_consts"], p["num_carry"], p["num_xs"]) == (1, 2, 3)
    saved, x, ct = backward.inputs[3:]
    assert saved is delay.outputs[1] and x is xs.var
    assert [v.shape for v in p["body"].inputs] == [(4, 4), (4,), (4, 4), (4,), (4,), (4,)]


def test_a_carry_the_vjp_never_reads_is_not_saved(graph, rng):
    xs = sg.placeholder((None, 3), "float64")
    w = sg.placeholder((3,), "float64")
    hs = sg.scan(lambda acc, x: acc + sg.tanh(x * w), xs, initializer=np.zeros(3))
    fd_check([xs, w], sg.sum(hs * 2.0), [rng.standard_normal((4, 3)),
                                          rng.standard_normal(3)], rng)
    forward, backward = scans(graph)  # no delay scan: the sums are linear in acc
    assert backward.params["num_xs"] == 2 and backward.inputs[-2] is xs.var


def test_fori_loop_gradient_recomputes_the_carries(graph, rng):
    w = sg.placeholder((2,), "float64")
    v0 = sg.placeholder((2,), "float64")
    out = sg.fori_loop(0, 4, lambda i, v: sg.tanh(v * w + sg.cast(i, "float64")), v0)
    fd_check([w, v0], sg.sum(out * out), [rng.standard_normal(2), rng.standard_normal(2)],
             rng)
    assert len(scans(graph)) == 3  # forward, forward again stacking carries, backward


def test_unconnected_and_integer_inputs_get_none(graph):
    xs = sg.placeholder((None, 2), "float64")
    u = sg.placeholder((2,), "float64")
    n = sg.placeholder((None,), "int64")
    count, hs = sg.scan(lambda acc, x: (acc[0] + x[1], acc[1] + x[0]), (xs, n),
                        initializer=(np.int64(0), np.zeros(2)))
    gx, gu = sg.gradients(sg.sum(hs), [xs, u])
    assert gu is None
    np.testing.assert_allclose(sg.function([xs, n], gx)(np.ones((3, 2)), np.arange(3)),
                               [[3, 3], [2, 2], [1, 1]])


def test_float32_gradients_keep_the_dtype(graph, rng):
    xs = sg.placeholder((None, 3), "float32")
    w = sg.Variable(rng.standard_normal((3, 3)).astype(np.float32))
    hs = sg.scan(lambda h, x: sg.tanh(h @ w + x), xs, initializer=np.zeros(3, np.float32))
    gx, gw = sg.gradients(sg.mean(hs), [xs, w])
    assert gx.dtype == np.float32 and gw.dtype == np.float32
    with sg.Session() as sess:
        a, b = sess.run([gx, gw], {xs: rng.standard_normal((4, 3)).astype(np.float32)})
    assert a.dtype == np.float32 and b.dtype == np.float32


def test_second_order_through_scan_inside_scan(graph, rng):
    xs = sg.placeholder((None, None, 2), "float64")
    w = sg.placeholder((2,), "float64")
    v = sg.placeholder((2,), "float64")

    def outer(acc, row):
        return sg.scan(lambda a, x: sg.tanh(a * w + x), row, initializer=acc)[-1] * 0.5
    out = sg.scan(outer, xs, initializer=np.zeros(2))
    (gw,) = sg.gradients(sg.sum(out * out), [w])
    (hv,) = sg.gradients(sg.sum(gw * v), [w])
    f = sg.function([xs, w, v], [gw, hv])
    a, wv, vv = rng.standard_normal((3, 4, 2)), rng.standard_normal(2), rng.standard_normal(2)
    eps = 1e-6
    numeric = (f(a, wv + eps * vv, vv)[0] - f(a, wv - eps * vv, vv)[0]) / (2 * eps)
    np.testing.assert_allclose(f(a, wv, vv)[1], numeric, rtol=1e-6, atol=1e-9)
