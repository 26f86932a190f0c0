"""sg.scan forward semantics: tf.scan results for any run-time length (0 included),
reverse, nested structures, captured symbols, scan inside scan, fori_loop, the
equation layout a backend lowers, and the errors a wrong step function gets."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import staticgraph as sg


@pytest.fixture
def graph():
    g = sg.Graph("scan")
    with g.as_default():
        yield g


def _line_of(marker: str) -> int:
    """The line number of the statement in this file that contains `marker`."""
    lines, _ = inspect.getsourcelines(inspect.getmodule(_line_of))
    return next(n for n, line in enumerate(lines, 1) if marker in line and
                "_line_of" not in line)


def scans(graph: sg.Graph) -> list:
    return [e for _, e in graph.walk() if e.prim is sg.scan_p]


def test_running_sum_for_any_length_with_one_graph(graph, rng):
    xs = sg.placeholder((None, 3), "float64")
    out = sg.scan(lambda acc, x: acc + x, xs, initializer=np.zeros(3))
    n_eqns = len(graph.eqns)
    with sg.Session() as sess:
        for length in (0, 1, 2, 7):
            a = rng.standard_normal((length, 3))
            value = sess.run(out, {xs: a})
            assert value.shape == (length, 3)
            np.testing.assert_allclose(value, np.cumsum(a, axis=0), rtol=1e-14)
    assert len(graph.eqns) == n_eqns and len(scans(graph)) == 1


def test_no_initializer_uses_the_first_element(graph, rng):
    xs = sg.placeholder((None, 2), "float64")
    out = sg.scan(lambda acc, x: acc * x, xs)
    back = sg.scan(lambda acc, x: acc * x, xs, reverse=True)
    a = rng.standard_normal((5, 2))
    with sg.Session() as sess:
        fwd, rev = sess.run([out, back], {xs: a})
        np.testing.assert_allclose(fwd, np.cumprod(a, axis=0), rtol=1e-14)
        np.testing.assert_allclose(rev, np.cumprod(a[::-1], axis=0)[::-1], rtol=1e-14)
        one = sess.run([out, back], {xs: a[:1]})
        np.testing.assert_allclose(one, [a[:1], a[:1]])


def test_reverse_with_initializer(graph, rng):
    xs = sg.placeholder((None,), "float64")
    out = sg.scan(lambda acc, x: 0.5 * acc + x, xs, initializer=np.float64(1.0), reverse=True)
    a = rng.standard_normal(6)
    expected, acc = np.empty(6), 1.0
    for t in range(5, -1, -1):
        acc = 0.5 * acc + a[t]
        expected[t] = acc
    with sg.Session() as sess:
        np.testing.assert_allclose(sess.run(out, {xs: a}), expected, rtol=1e-14)
        assert sess.run(out, {xs: a[:0]}).shape == (0,)


def test_nested_structures(graph, rng):
    xs = {"u": sg.placeholder((None, 2), "float64"), "v": sg.placeholder((None,), "float64")}
    init = (np.zeros(2), {"n": np.float64(0.0)})

    def step(acc, x):
        total, stats = acc
        return (total + x["u"] * x["v"], {"n": stats["n"] + sg.sum(x["u"])})
    total, stats = sg.scan(step, xs, initializer=init)
    u, v = rng.standard_normal((4, 2)), rng.standard_normal(4)
    with sg.Session() as sess:
        t, n = sess.run([total, stats["n"]], {xs["u"]: u, xs["v"]: v})
    np.testing.assert_allclose(t, np.cumsum(u * v[:, None], axis=0), rtol=1e-14)
    np.testing.assert_allclose(n, np.cumsum(u.sum(1)), rtol=1e-14)


def test_captured_symbols_become_loop_invariant_operands(graph, rng):
    w = sg.Variable(rng.standard_normal((3, 3)), name="w")
    b = sg.placeholder((3,), "float64", name="b")
    xs = sg.placeholder((None, 3), "float64", name="xs")
    out = sg.scan(lambda h, x: sg.tanh(h @ w + x + b), xs, initializer=np.zeros(3))
    (eqn,) = scans(graph)
    assert eqn.params["num_consts"] == 2 and {v.label for v in eqn.inputs[:2]} == {"w", "b"}
    wv, bv, a = graph.variables[w.var].initial, rng.standard_normal(3), rng.standard_normal((4, 3))
    h, expected = np.zeros(3), []
    for x in a:
        h = np.tanh(h @ wv + x + bv)
        expected.append(h)
    with sg.Session() as sess:
        np.testing.assert_allclose(sess.run(out, {xs: a, b: bv}), expected, rtol=1e-14)


def test_scan_inside_scan(graph, rng):
    xs = sg.placeholder((None, None, 2), "float64")  # (outer steps, inner steps, 2)
    w = sg.Variable(np.array([0.5, -1.5]))

    def outer(acc, row):
        inner = sg.scan(lambda a, x: a * 0.9 + x * w, row, initializer=acc)
        return inner[-1]
    out = sg.scan(outer, xs, initializer=np.zeros(2))
    a = rng.standard_normal((3, 4, 2))
    acc, expected = np.zeros(2), []
    for row in a:
        for x in row:
            acc = acc * 0.9 + x * np.array([0.5, -1.5])
        expected.append(acc)
    with sg.Session() as sess:
        np.testing.assert_allclose(sess.run(out, {xs: a}), expected, rtol=1e-14)
        assert sess.run(out, {xs: a[:0]}).shape == (0, 2)
    assert len(scans(graph)) == 2


def test_integer_carry_and_fori_loop(graph):
    xs = sg.placeholder((None,), "float64")
    count, total = sg.scan(lambda acc, x: (acc[0] + 1, acc[1] + x), xs,
                           initializer=(np.int64(0), np.float64(0)))
    fact = sg.fori_loop(1, 6, lambda i, v: v * sg.cast(i, "float64"), np.float64(1))
    with sg.Session() as sess:
        c, t, f = sess.run([count, total, fact], {xs: np.array([1.0, 2.0, 3.0])})
    np.testing.assert_array_equal(c, [1, 2, 3])
    np.testing.assert_allclose(t, [1, 3, 6])
    assert f == 120 and len(scans(graph)) == 2


def test_eqn_layout(graph):
    w = sg.Variable(np.ones((2, 2), np.float32), name="w")
    xs = sg.placeholder((None, 5, 2), "float32", name="xs")
    sg.scan(lambda h, x: h @ w + x, xs, initializer=np.zeros((5, 2), np.float32))
    (eqn,) = scans(graph)
    assert set(eqn.params) == {"body", "num_consts", "num_carry", "num_xs", "reverse"}
    body = eqn.params["body"]
    assert (eqn.params["num_consts"], eqn.params["num_carry"], eqn.params["num_xs"]) == (1, 1, 1)
    assert [v.shape for v in body.inputs] == [(2, 2), (5, 2), (5, 2)]
    assert len(body.outputs) == 2 and body.outputs[0] is body.outputs[1]
    assert [v.shape for v in eqn.outputs] == [(5, 2), (None, 5, 2)]
    sg.check_graph(graph)
    assert "scan[num_consts=1, num_carry=1, num_xs=1, reverse=False]" in graph.to_text()


def test_body_shape_mismatch_names_the_line(graph):
    xs = sg.placeholder((None, 3), "float64")
    with pytest.raises(sg.ShapeError) as info:
        sg.scan(lambda acc, x: sg.sum(acc + x), xs, initializer=np.zeros(3))  # bad-shape
    msg = str(info.value)
    assert "accumulator 0" in msg and "float64[3]" in msg and "float64[]" in msg
    assert f"test_scan.py:{_line_of('# bad-shape')}" in msg


def test_body_dtype_mismatch_is_a_shape_error(graph):
    xs = sg.placeholder((None, 3), "float64")
    with pytest.raises(sg.ShapeError, match="float32") as info:
        sg.scan(lambda acc, x: acc + x, xs, initializer=np.zeros(3, np.float32))  # bad-dtype
    assert f"test_scan.py:{_line_of('# bad-dtype')}" in str(info.value)


def test_structure_and_operand_errors(graph):
    xs = sg.placeholder((None, 3), "float64")
    with pytest.raises(sg.ShapeError, match="fn returns"):
        sg.scan(lambda acc, x: (acc, acc), xs, initializer=np.zeros(3))
    with pytest.raises(sg.ShapeError, match="leading axis"):
        sg.scan(lambda acc, x: acc, sg.constant(1.0), initializer=1.0)
    with pytest.raises(sg.ShapeError, match="different lengths"):
        sg.scan(lambda acc, x: acc, (np.zeros(3), np.zeros(4)), initializer=np.float64(0))
    with pytest.raises(sg.GraphError, match="Variable"):
        sg.scan(lambda acc, x: acc + sg.Variable(1.0), sg.constant(np.zeros(3, np.float32)),
                initializer=np.float32(0))


def test_run_time_length_mismatch_names_the_scan(graph):
    a = sg.placeholder((None,), "float64")
    b = sg.placeholder((None,), "float64")
    out = sg.scan(lambda acc, x: acc + x[0] * x[1], (a, b), initializer=np.float64(0))  # lens
    with sg.Session() as sess, pytest.raises(sg.ShapeError) as info:
        sess.run(out, {a: np.zeros(3), b: np.zeros(4)})
    assert "different lengths" in str(info.value)
    assert f"test_scan.py:{_line_of('# lens')}" in str(info.value)


def test_interpreter_impl_runs_on_arrays(graph):
    xs = sg.placeholder((None, 2), "float64")
    sg.scan(lambda acc, x: acc + x, xs, initializer=np.zeros(2))
    (eqn,) = scans(graph)
    final, ys = sg.scan_p.impl(np.zeros(2), np.ones((3, 2)), **eqn.params)
    np.testing.assert_allclose(final, [3, 3])
    np.testing.assert_allclose(ys, [[1, 1], [2, 2], [3, 3]])
