"""dg.nn.RNN / LSTM / GRU against NumPy references (values) and finite
differences (gradients), with PyTorch's parameter names and layouts."""

from __future__ import annotations

import numpy as np
import pytest

import dyngraph as dg


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _cell(mode, x, state, w_ih, w_hh, b_ih, b_hh):
    """One step of PyTorch's cell equations in NumPy."""
    xw, hw = x @ w_ih.T + b_ih, state[0] @ w_hh.T + b_hh
    n = w_hh.shape[1]
    if mode == "RNN":
        return (np.tanh(xw + hw),)
    if mode == "GRU":
        r = _sigmoid(xw[:, :n] + hw[:, :n])
        z = _sigmoid(xw[:, n:2 * n] + hw[:, n:2 * n])
        cand = np.tanh(xw[:, 2 * n:] + r * hw[:, 2 * n:])
        return ((1 - z) * cand + z * state[0],)
    g = xw + hw
    i, f, gg, o = (g[:, k * n:(k + 1) * n] for k in range(4))
    c = _sigmoid(f) * state[1] + _sigmoid(i) * np.tanh(gg)
    return _sigmoid(o) * np.tanh(c), c


def _reference(mode, module, x):
    """Multi-layer, optionally bidirectional forward in NumPy; (output, final states)."""
    sd = module.state_dict()
    layers, dirs, hidden = module.num_layers, module.directions, module.hidden_size
    finals = []
    for layer in range(layers):
        outs = []
        for d in range(dirs):
            suffix = f"_l{layer}" + ("_reverse" if d else "")
            w = [sd[k + suffix] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            zeros = np.zeros((x.shape[1], hidden))
            state = (zeros, zeros) if mode == "LSTM" else (zeros,)
            seq = [None] * x.shape[0]
            for t in (reversed(range(x.shape[0])) if d else range(x.shape[0])):
                state = _cell(mode, x[t], state, *w)
                seq[t] = state[0]
            outs.append(np.stack(seq))
            finals.append(state)
        x = np.concatenate(outs, axis=2)
    return x, finals


MODULES = {"RNN": dg.nn.RNN, "LSTM": dg.nn.LSTM, "GRU": dg.nn.GRU}


@pytest.mark.parametrize("mode", list(MODULES))
@pytest.mark.parametrize("layers,bidirectional,batch_first", [(1, False, False),
                                                              (2, True, True)])
def test_recurrent_values_match_numpy(mode, layers, bidirectional, batch_first, rng):
    module = MODULES[mode](3, 4, num_layers=layers, bidirectional=bidirectional,
                           batch_first=batch_first, dtype=np.float64)
    x = rng.normal(size=(5, 2, 3))
    out, state = module(dg.tensor(x.transpose(1, 0, 2) if batch_first else x))
    ref_out, ref_finals = _reference(mode, module, x)
    got = out.detach().numpy()
    np.testing.assert_allclose(got.transpose(1, 0, 2) if batch_first else got, ref_out,
                               rtol=1e-12, atol=1e-14)
    h_n = (state[0] if mode == "LSTM" else state).detach().numpy()
    np.testing.assert_allclose(h_n, np.stack([f[0] for f in ref_finals]), rtol=1e-12)
    if mode == "LSTM":
        np.testing.assert_allclose(state[1].detach().numpy(),
                                   np.stack([f[1] for f in ref_finals]), rtol=1e-12)


@pytest.mark.parametrize("mode", list(MODULES))
def test_recurrent_gradients_match_finite_differences(mode, rng):
    module = MODULES[mode](2, 3, num_layers=2, bidirectional=True, dtype=np.float64)
    x = dg.tensor(rng.normal(size=(3, 2, 2)), requires_grad=True)
    h0 = dg.tensor(rng.normal(size=(4, 2, 3)), requires_grad=True)
    weight = module.weight_hh_l1_reverse

    def run(x, h0, weight):
        hx = (h0, h0 * 0.5) if mode == "LSTM" else h0
        out, _ = module(x, hx)
        return (out * out).sum()
    assert dg.gradcheck(run, (x, h0, weight))


def test_parameter_names_shapes_and_unbatched_input(rng):
    lstm = dg.nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    names = [(n, p.shape) for n, p in lstm.named_parameters()]
    assert names[:5] == [("weight_ih_l0", (20, 3)), ("weight_hh_l0", (20, 5)),
                         ("bias_ih_l0", (20,)), ("bias_hh_l0", (20,)),
                         ("weight_ih_l0_reverse", (20, 3))]
    assert ("weight_ih_l1", (20, 10)) in names and len(names) == 16
    gru = dg.nn.GRU(3, 4, bias=False)
    assert [n for n, _ in gru.named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]
    rnn = dg.nn.RNN(3, 4, nonlinearity="relu", dtype=np.float64)
    x = rng.normal(size=(6, 3))
    out, h = rnn(dg.tensor(x))
    batched, hb = rnn(dg.tensor(x[:, None, :]))
    assert out.shape == (6, 4) and h.shape == (1, 4)
    np.testing.assert_allclose(out.detach().numpy(), batched.detach().numpy()[:, 0])
    assert (out.detach().numpy() >= 0).all()


def test_recurrent_errors():
    lstm = dg.nn.LSTM(3, 4)
    with pytest.raises(dg.ShapeError, match=r"LSTM: input must be \(L, N, 3\)"):
        lstm(dg.ones(5, 2, 4))
    with pytest.raises(dg.ShapeError, match=r"expected hidden state of shape \(1, 2, 4\)"):
        lstm(dg.ones(5, 2, 3), (dg.zeros(1, 3, 4), dg.zeros(1, 3, 4)))
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        dg.nn.RNN(3, 4, nonlinearity="gelu")
    out, _ = lstm(dg.ones(5, 2, 3))  # the module still works
    assert out.shape == (5, 2, 4)
