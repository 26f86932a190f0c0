"""sg.initializers == dg.nn.init draws; sg.layers.dense and LSTMCell (and
dg.nn.LSTMCell) against NumPy references, gradients across engines, and the
cell inside sg.scan when scan exists."""

from __future__ import annotations

import math

import numpy as np
import pytest

import dyngraph as dg
import staticgraph as sg
from dyngraph.nn import init


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def lstm_step_numpy(x, h, c, kernel, recurrent, bias):
    """The reference LSTM step (Keras layout, gates i, f, g, o)."""
    z = x @ kernel + h @ recurrent + bias
    i, f, g, o = np.split(z, 4, axis=-1)
    c_new = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return _sigmoid(o) * np.tanh(c_new), c_new


# ---- initializers: same draws --------------------------------------------------------

@pytest.mark.parametrize("shape", [(3, 4), (7,), (2, 3, 5)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_seeded_initializers_match_dyngraph(shape, dtype):
    t = dg.empty(*shape, dtype=dtype)
    cases = [(sg.initializers.normal(0.5, seed=3, mean=0.1),
              lambda: init.normal_(t, mean=0.1, std=0.5, seed=3)),
             (sg.initializers.uniform(-2.0, 1.0, seed=4),
              lambda: init.uniform_(t, -2.0, 1.0, seed=4)),
             (sg.initializers.zeros(), lambda: init.zeros_(t)),
             (sg.initializers.ones(), lambda: init.ones_(t))]
    if len(shape) == 2:
        cases.append((sg.initializers.glorot_uniform(seed=5),
                      lambda: init.xavier_uniform_(t, seed=5)))
    for static_init, fill in cases:
        expected = static_init(shape, dtype)
        assert expected.dtype == dtype and expected.shape == shape
        np.testing.assert_array_equal(fill().numpy(), expected)


def test_draw_formulas_are_the_documented_ones():
    np.testing.assert_array_equal(
        sg.initializers.normal(2.0, seed=1, mean=3.0)((4,), np.float64),
        np.random.default_rng(1).standard_normal((4,)) * 2.0 + 3.0)
    limit = math.sqrt(6.0 / (3 + 5))
    np.testing.assert_array_equal(
        sg.initializers.glorot_uniform(seed=2)((3, 5), np.float32),
        np.random.default_rng(2).uniform(-limit, limit, (3, 5)).astype(np.float32))
    # a seeded initializer gives the same array every call
    once = sg.initializers.normal(seed=9)
    np.testing.assert_array_equal(once((2, 2)), once((2, 2)))


def test_global_generators_give_the_same_sequence():
    sg.set_random_seed(42)
    dg.manual_seed(42)
    static = [sg.initializers.normal()((3, 2), np.float64),
              sg.initializers.glorot_uniform()((2, 4), np.float64)]
    dynamic = [init.normal_(dg.empty(3, 2, dtype=np.float64)).numpy(),
               init.xavier_uniform_(dg.empty(2, 4, dtype=np.float64)).numpy()]
    for a, b in zip(static, dynamic):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(static[0][:2], static[1][:, :2])  # the generator moved on


def test_explicit_generator_and_errors():
    gen_a, gen_b = np.random.default_rng(5), np.random.default_rng(5)
    t = init.normal_(dg.empty(3), generator=gen_a)
    np.testing.assert_array_equal(t.numpy(), gen_b.standard_normal(3).astype(np.float32))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(dg.empty(3))
    with pytest.raises(ValueError, match="unknown initializer"):
        sg.initializers.get("nope")
    with pytest.raises(ValueError, match="every dim must be known"):
        sg.initializers.zeros()((None, 3))


def test_init_bumps_the_version_and_keeps_dtype():
    w = dg.nn.Parameter(np.zeros((2, 3), np.float32))
    before = w._version[0]
    assert init.ones_(w) is w
    assert w._version[0] == before + 1 and w.dtype == np.float32 and w.requires_grad


# ---- dense --------------------------------------------------------------------------

def test_dense_matches_numpy_and_names_its_variables(rng):
    x_val = rng.standard_normal((5, 3))
    with sg.Graph().as_default() as graph:
        x = sg.placeholder((None, 3), "float64", name="x")
        h = sg.layers.dense(x, 4, activation=sg.tanh,
                            kernel_initializer=sg.initializers.glorot_uniform(seed=1),
                            bias_initializer=sg.initializers.normal(seed=2))
        y = sg.layers.dense(h, 2, use_bias=False, name="out")
        names = [v.name for v in sg.trainable_variables()]
    assert names == ["dense/kernel", "dense/bias", "out/kernel"]
    kernel = sg.initializers.glorot_uniform(seed=1)((3, 4), np.float64)
    bias = sg.initializers.normal(seed=2)((4,), np.float64)
    with sg.Session(graph) as sess:
        out_kernel = sess.get(sg.trainable_variables(graph)[2])
        h_val, y_val = sess.run([h, y], {x: x_val})
    np.testing.assert_allclose(h_val, np.tanh(x_val @ kernel + bias), rtol=1e-12)
    np.testing.assert_allclose(y_val, h_val @ out_kernel, rtol=1e-12)
    assert out_kernel.dtype == np.float64 and out_kernel.shape == (4, 2)


def test_dense_names_are_unique_and_inputs_checked():
    with sg.Graph().as_default():
        x = sg.placeholder((2, 3), "float32")
        sg.layers.dense(x, 1)
        sg.layers.dense(x, 1)
        assert [v.name for v in sg.global_variables()][2:] == ["dense_1/kernel",
                                                                "dense_1/bias"]
        with pytest.raises(sg.ShapeError, match="last dim must be known"):
            sg.layers.dense(sg.placeholder((2, None), "float32"), 1)
        with pytest.raises(sg.DTypeError, match="floating point"):
            sg.layers.dense(sg.placeholder((2, 3), "int64"), 1)


def test_dense_inside_cond_creates_variables_in_the_top_level_graph(rng):
    x_val = rng.standard_normal((2, 3))
    with sg.Graph().as_default() as graph:
        x = sg.placeholder((2, 3), "float64")
        flag = sg.placeholder((), "bool")
        out = sg.cond(flag, lambda: sg.layers.dense(x, 3, name="inner"), lambda: x)
        (kernel, bias) = sg.trainable_variables()
        grads = sg.gradients(sg.sum(out), [kernel, bias])
    with sg.Session(graph) as sess:
        k, b = sess.get(kernel), sess.get(bias)
        np.testing.assert_allclose(sess.run(out, {x: x_val, flag: True}), x_val @ k + b)
        gk, gb = sess.run(grads, {x: x_val, flag: True})
    np.testing.assert_allclose(gk, x_val.T @ np.ones((2, 3)))
    np.testing.assert_allclose(gb, np.full(3, 2.0))


# ---- LSTM ---------------------------------------------------------------------------

def _lstm_graph(units=4, inputs=3, steps=3, seed=0):
    """An unrolled sg LSTM over `steps` fed inputs; returns what the tests need."""
    graph = sg.Graph()
    with graph.as_default():
        xs = [sg.placeholder((None, inputs), "float64", name=f"x{t}") for t in range(steps)]
        cell = sg.layers.LSTMCell(units, kernel_initializer=sg.initializers.normal(0.5, seed),
                                  recurrent_initializer=sg.initializers.normal(0.5, seed + 1),
                                  bias_initializer=sg.initializers.normal(0.1, seed + 2))
        h, c = cell.zero_state(2, "float64")
        for x in xs:
            h, c = cell((h, c), x)
        loss = sg.sum(h * h) + sg.sum(c)
        grads = sg.gradients(loss, cell.variables)
    return graph, xs, cell, (h, c), loss, grads


def test_lstm_cell_matches_numpy(rng):
    graph, xs, cell, (h, c), _, _ = _lstm_graph()
    feeds = {x: rng.standard_normal((2, 3)) for x in xs}
    with sg.Session(graph) as sess:
        kernel, recurrent, bias = (sess.get(v) for v in cell.variables)
        h_val, c_val = sess.run([h, c], feeds)
    assert kernel.shape == (3, 16) and recurrent.shape == (4, 16) and bias.shape == (16,)
    expected_bias = sg.initializers.normal(0.1, 2)((16,), np.float64)
    expected_bias[4:8] += 1.0  # forget_bias=1.0 goes into the initial value
    np.testing.assert_array_equal(bias, expected_bias)
    hn, cn = np.zeros((2, 4)), np.zeros((2, 4))
    for x in xs:
        hn, cn = lstm_step_numpy(feeds[x], hn, cn, kernel, recurrent, bias)
    np.testing.assert_allclose(h_val, hn, rtol=1e-12)
    np.testing.assert_allclose(c_val, cn, rtol=1e-12)


def _dg_lstm_from(kernel, recurrent, bias) -> dg.nn.LSTMCell:
    cell = dg.nn.LSTMCell(kernel.shape[0], recurrent.shape[0], dtype=np.float64)
    cell.load_state_dict({"weight_ih": kernel.T, "weight_hh": recurrent.T,
                          "bias_ih": bias, "bias_hh": np.zeros_like(bias)})
    return cell


def test_lstm_gradients_match_dyngraph_and_finite_differences(rng):
    graph, xs, cell, _, loss, grads = _lstm_graph()
    feeds = {x: rng.standard_normal((2, 3)) for x in xs}
    with sg.Session(graph) as sess:
        weights = [sess.get(v) for v in cell.variables]
        static_grads = sess.run(grads, feeds)
        loss_at = lambda: sess.run(loss, feeds)  # noqa: E731
        base = weights[2].copy()  # central differences on two bias entries
        for j in (1, 6):
            bumped = []
            for eps in (1e-6, -1e-6):
                b = base.copy()
                b[j] += eps
                sess.set(cell.bias, b)
                bumped.append(loss_at())
            np.testing.assert_allclose(static_grads[2][j], (bumped[0] - bumped[1]) / 2e-6,
                                       rtol=1e-6)
    dyn = _dg_lstm_from(*weights)
    h = c = dg.zeros(2, 4, dtype=np.float64)
    for x in xs:
        h, c = dyn(dg.tensor(feeds[x]), (h, c))
    ((h * h).sum() + c.sum()).backward()
    np.testing.assert_allclose(static_grads[0], dyn.weight_ih.grad.numpy().T, rtol=1e-10)
    np.testing.assert_allclose(static_grads[1], dyn.weight_hh.grad.numpy().T, rtol=1e-10)
    np.testing.assert_allclose(static_grads[2], dyn.bias_ih.grad.numpy(), rtol=1e-10)


def test_dyngraph_lstm_cell_matches_numpy(rng):
    dg.manual_seed(3)
    cell = dg.nn.LSTMCell(3, 5, dtype=np.float64)
    assert [n for n, _ in cell.named_parameters()] == ["weight_ih", "weight_hh", "bias_ih",
                                                       "bias_hh"]
    assert cell.weight_ih.shape == (20, 3)
    assert np.abs(cell.weight_ih.detach().numpy()).max() <= 1 / math.sqrt(5)
    x, h0, c0 = (rng.standard_normal(shape) for shape in ((4, 3), (4, 5), (4, 5)))
    h, c = cell(dg.tensor(x), (dg.tensor(h0), dg.tensor(c0)))
    p = {n: t.detach().numpy() for n, t in cell.named_parameters()}
    hn, cn = lstm_step_numpy(x, h0, c0, p["weight_ih"].T, p["weight_hh"].T,
                             p["bias_ih"] + p["bias_hh"])
    np.testing.assert_allclose(h.detach().numpy(), hn, rtol=1e-12)
    np.testing.assert_allclose(c.detach().numpy(), cn, rtol=1e-12)
    h, c = cell(dg.tensor(x))  # no state: zeros
    hz, _ = lstm_step_numpy(x, 0 * h0, 0 * c0, p["weight_ih"].T, p["weight_hh"].T,
                            p["bias_ih"] + p["bias_hh"])
    np.testing.assert_allclose(h.detach().numpy(), hz, rtol=1e-12)


def test_lstm_cell_builds_once_and_reports_misuse():
    with sg.Graph().as_default():
        cell = sg.layers.LSTMCell(2, input_size=3, dtype="float64")
        assert cell.built and cell.kernel.shape == (3, 8) and cell.kernel.dtype == np.float64
        x = sg.placeholder((1, 3), "float64")
        state = cell.zero_state(1)
        state = cell(cell(state, x), x)
        assert len(sg.global_variables()) == 3
        with pytest.raises(ValueError, match="already built"):
            cell.build(3, "float64")
        with pytest.raises(sg.ShapeError):
            cell(state, sg.placeholder((1, 4), "float64"))


# ---- LSTM inside sg.scan -----------------------------------------------------------

@pytest.mark.skipif(not hasattr(sg, "scan"), reason="sg.scan is not available yet")
def test_lstm_cell_inside_scan_matches_numpy_and_dyngraph(rng):
    xs_val = rng.standard_normal((5, 2, 3))
    graph = sg.Graph()
    with graph.as_default():
        xs = sg.placeholder((None, 2, 3), "float64")
        cell = sg.layers.LSTMCell(4, kernel_initializer=sg.initializers.normal(0.5, 0))
        h0, c0 = cell.zero_state(2, "float64")
        hs, cs = sg.scan(cell, xs, initializer=(h0, c0))
        loss = sg.sum(hs[-1] * hs[-1]) + sg.sum(cs)
        assert len(sg.trainable_variables()) == 3  # made once, outside the body
        grads = sg.gradients(loss, cell.variables)
    with sg.Session(graph) as sess:
        weights = [sess.get(v) for v in cell.variables]
        hs_val, static_grads = sess.run([hs, grads], {xs: xs_val})
        assert sess.run(hs, {xs: xs_val[:0]}).shape == (0, 2, 4)
    hn, cn, ref = np.zeros((2, 4)), np.zeros((2, 4)), []
    for x in xs_val:
        hn, cn = lstm_step_numpy(x, hn, cn, *weights)
        ref.append(hn)
    np.testing.assert_allclose(hs_val, np.stack(ref), rtol=1e-12)
    dyn = _dg_lstm_from(*weights)
    h = c = dg.zeros(2, 4, dtype=np.float64)
    total = 0
    for x in xs_val:
        h, c = dyn(dg.tensor(x), (h, c))
        total = total + c.sum()
    (total + (h * h).sum()).backward()
    np.testing.assert_allclose(static_grads[0], dyn.weight_ih.grad.numpy().T, rtol=1e-10)
    np.testing.assert_allclose(static_grads[1], dyn.weight_hh.grad.numpy().T, rtol=1e-10)
    np.testing.assert_allclose(static_grads[2], dyn.bias_ih.grad.numpy(), rtol=1e-10)
