"""The tanh RNN and the LSTM: sg.scan forward and BPTT gradients equal the
hand-written NumPy BPTT and the unrolled dyngraph version (float64, tight
tolerance) for lengths 0, 1 and several; one scan graph serves every length;
and the training run's loss curves agree across engines."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import dyngraph as dg
import staticgraph as sg
from comparisons import rnn
from comparisons.rnn import models as rm
from comparisons.rnn import numpy_steps as rn

B, D, H = 3, 2, 4
RTOL = 1e-12


def _close(a, b) -> None:
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-14)


def _state_placeholders(cell: str):
    h0 = sg.placeholder((B, H), "float64", name="h0")
    return (h0, sg.placeholder((B, H), "float64", name="c0")) if cell == "lstm" else h0


def _flat(state) -> list:
    return list(state) if isinstance(state, tuple) else [state]


@pytest.fixture(params=rn.CELLS)
def cell(request) -> str:
    return request.param


def _data(rng, cell: str, length: int):
    params = rn.init_params(cell, D, H, rng)
    xs = rng.standard_normal((length, B, D))
    state0 = tuple(rng.standard_normal((B, H)) for _ in range(2 if cell == "lstm" else 1))
    g_hs = rng.standard_normal((length, B, H))
    return params, xs, state0 if cell == "lstm" else state0[0], g_hs


def _scan_vjp(cell: str) -> sg.Function:
    """hs and the VJP of hs (cotangent g_hs) w.r.t. params, xs and the initial state."""
    graph = sg.Graph("rnn_vjp")
    with graph.as_default():
        shapes = rn.init_params(cell, D, H, np.random.default_rng(0))
        params = {k: sg.placeholder(v.shape, "float64", name=k) for k, v in shapes.items()}
        xs = sg.placeholder((None, B, D), "float64", name="xs")
        state0 = _state_placeholders(cell)
        g_hs = sg.placeholder((None, B, H), "float64", name="g_hs")
        hs = rm.scan_hidden_states(cell, params, xs, state0)
        wrt = [params[k] for k in ("Wx", "Wh", "b")] + [xs] + _flat(state0)
        grads = sg.gradients(hs, wrt, grad_ys=g_hs)
        inputs = [params[k] for k in rm.PARAMS] + [xs] + _flat(state0) + [g_hs]
        return sg.function(inputs, [hs] + grads)


@pytest.mark.parametrize("length", [0, 1, 7])
def test_scan_vjp_equals_numpy_bptt(cell, length, rng):
    params, xs, state0, g_hs = _data(rng, cell, length)
    f = _scan_vjp(cell)
    hs, *grads = f(*[params[k] for k in rm.PARAMS], xs, *_flat(state0), g_hs)
    ref_hs, cache = rn.forward(cell, params, xs, state0)
    ref = rn.backward(cell, params, xs, state0, cache, g_hs)
    _close(hs, ref_hs)
    names = ["Wx", "Wh", "b", "xs", "h0"] + (["c0"] if cell == "lstm" else [])
    for name, g in zip(names, grads):
        _close(g, ref[name])


@pytest.mark.parametrize("length", [1, 7])
def test_scan_vjp_equals_unrolled_dyngraph(cell, length, rng):
    params, xs, state0, g_hs = _data(rng, cell, length)
    f = _scan_vjp(cell)
    hs, *grads = f(*[params[k] for k in rm.PARAMS], xs, *_flat(state0), g_hs)
    p = rm.dyngraph_params(params)
    x = dg.tensor(xs, requires_grad=True)
    s0 = tuple(dg.tensor(s, requires_grad=True) for s in _flat(state0))
    out = dg.stack(rm.dyngraph_hidden_states(cell, p, x, s0 if cell == "lstm" else s0[0]))
    (out * dg.from_numpy(g_hs)).sum().backward()
    _close(hs, out.detach().numpy())
    for g, t in zip(grads, [p["Wx"], p["Wh"], p["b"], x, *s0]):
        _close(g, t.grad.numpy())


@pytest.mark.parametrize("mode", ["scan", "unrolled"])
def test_training_loss_and_gradients_equal_numpy(cell, mode, rng):
    params = rn.init_params(cell, D, H, rng)
    model = rm.StaticRNN(cell, params, B, mode)
    for length in (1, 5):
        xs, ys = rng.standard_normal((length, B, D)), rng.standard_normal((length, B, 1))
        loss, grads = model.loss_and_grads(xs, ys)
        ref_loss, ref = rn.loss_and_grads(cell, params, xs, ys)
        _close(loss, ref_loss)
        for k in rm.PARAMS:
            _close(grads[k], ref[k])
    assert model.graphs_built == (1 if mode == "scan" else 2)


def test_one_scan_graph_runs_every_length(rng):
    model = rm.StaticRNN("tanh", rn.init_params("tanh", D, H, rng), B, "scan")
    model.tower(1)
    n_eqns = len(model.graph.eqns)
    for length in (1, 3, 8, 2):
        model.loss_and_grads(rng.standard_normal((length, B, D)),
                             rng.standard_normal((length, B, 1)))
    assert len(model.graph.eqns) == n_eqns and model.graphs_built == 1


def test_training_curves_agree_across_engines(cell):
    size = dataclasses.replace(rnn.QUICK, cell=cell, steps=8)
    problem = rnn.make_problem(size, np.dtype("float64"))
    setups = {"numpy": rnn.numpy_setup, "dyngraph": rnn.dyngraph_setup,
              "scan": rnn.static_setup("scan", "interpret"),
              "unrolled": rnn.static_setup("unrolled", "interpret")}
    curves = {}
    for name, setup in setups.items():
        prep = setup(problem)
        for _ in range(size.steps):
            prep.step()
        curves[name] = np.array(prep.values())
    for name, curve in curves.items():
        np.testing.assert_allclose(curve, curves["numpy"], rtol=1e-12, err_msg=name)
    assert curves["numpy"][-3:].mean() < curves["numpy"][:3].mean()  # it learns
